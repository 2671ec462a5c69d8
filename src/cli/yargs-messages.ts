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
  const typedAsFlag = (n: string) => argv.some((a) => a === dashed(n) || a.startsWith(`${dashed(n)}=`));
  // yargs names a flag twice (lr-schedule, lrSchedule): keep the form that was typed
  const asFlags = names.filter(typedAsFlag);
  const words = names.filter((n) => !typedAsFlag(n) && !asFlags.some((f) => kebab(f) === kebab(n)));
  // outside any command (only --help and --version known), a word is a mistyped command, and
  // that is the one thing to say
  if (flags.every((f) => f === 'help' || f === 'version') && words.length > 0) {
    const near = nearest(words[0], commands);
    return `unknown command '${words[0]}'${near ? ` (did you mean ${near}?)` : ''}`;
  }
  const known = flags.filter((f) => f === kebab(f));
  return [
    ...words.map((w) => `unexpected argument '${w}'`),
    ...asFlags.map((name) => {
      const near = nearest(kebab(name), known);
      return `unknown flag ${dashed(name)}${near ? ` (did you mean ${flag(near)}?)` : ''}`;
    }),
  ].join('; ');
}

const list = (text: string) => text.split(/,\s*/).filter(Boolean);
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const flag = (name: string) => (name.length === 1 ? `-${name}` : `--${kebab(name)}`);
/** as it was typed: `--lrSchedule` stays camelCase */
const dashed = (name: string) => (name.length === 1 ? `-${name}` : `--${name}`);

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
  // a short name is close to too much: one edit at most
  const allowed = name.length <= 3 ? 1 : Math.max(2, Math.floor(name.length / 3));
  return best !== null && bestDistance <= allowed ? best : null;
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
