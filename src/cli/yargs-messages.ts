// yargs' own failure messages, rewritten as gradpool's: one line, flags written as flags,
// an unknown flag or command named once (yargs lists `lr-schedule, lrSchedule`) with the
// nearest known one as a suggestion.

/**
 * The one-line message for a yargs failure, given the flags and commands known where it
 * happened and the arguments as typed.
 */
export function usageMessage(
  message: string,
  flags: readonly string[],
  commands: readonly string[],
  argv: readonly string[],
): string {
  const missingValue = /^Not enough arguments following: (.+)$/.exec(message);
  if (missingValue) return `${flag(missingValue[1])} needs a value`;
  const required = /^Missing required arguments?: (.+)$/.exec(message);
  if (required) return `${list(required[1]).map(flag).join(', ')} required`;
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) return unknownMessage(list(unknown[1]), flags, commands, argv);
  return message.replace(/\s*\n\s*/g, '; ');
}

function unknownMessage(
  names: string[],
  flags: readonly string[],
  commands: readonly string[],
  argv: readonly string[],
): string {
  // outside any command (only --help and --version known), a word that is not a flag is a
  // mistyped command, and that is the one thing to say
  const topLevel = flags.every((f) => f === 'help' || f === 'version');
  const typedAsFlag = (n: string) => argv.some((a) => a === flag(n) || a.startsWith(`${flag(n)}=`));
  const command = topLevel ? names.find((n) => !typedAsFlag(n)) : undefined;
  if (command !== undefined) {
    const near = nearest(command, commands);
    return `unknown command '${command}'${near ? ` (did you mean ${near}?)` : ''}`;
  }
  // yargs reports a kebab-case flag once more in camelCase: keep the form the user typed
  const typed = names.filter((n) => !names.includes(kebab(n)) || kebab(n) === n);
  const known = flags.filter((f) => f === kebab(f));
  return typed
    .map((name) => {
      const near = nearest(name, known);
      return `unknown flag ${flag(name)}${near ? ` (did you mean ${flag(near)}?)` : ''}`;
    })
    .join('; ');
}

const list = (text: string) => text.split(/,\s*/).filter(Boolean);
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const flag = (name: string) => (name.length === 1 ? `-${name}` : `--${kebab(name)}`);

/** The known name closest to `name`, if it is close enough to be a typo of it. */
export function nearest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d =
      k.startsWith(name) || name.startsWith(k) ? Math.abs(k.length - name.length) * 0.5 : distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}
