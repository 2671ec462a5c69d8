import type { Options } from 'yargs';

/**
 * yargs options in which every flag that is not a switch needs a value: `--port` alone is a
 * usage error, not '' or, worse, the default used silently.
 */
export function withValues(options: Record<string, Options>): Record<string, Options> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      o.type === 'boolean' ? o : { ...o, requiresArg: true },
    ]),
  );
}
