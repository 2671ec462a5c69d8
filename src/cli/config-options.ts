import type { Options } from 'yargs';
import { CONFIG_FIELDS, defaultConfig, type TrainConfig } from '../train/config.js';

// yargs options generated from the one config definition. Values arrive as strings and are
// validated by resolveConfig, so `--threads abc` and `--threads 0` fail with our message
// instead of becoming NaN or passing silently.

export function configOptions(): Record<string, Options> {
  const defaults = defaultConfig();
  const options: Record<string, Options> = {};
  for (const [key, spec] of Object.entries(CONFIG_FIELDS)) {
    const value = defaults[key as keyof TrainConfig];
    options[spec.flag] = {
      type: 'string',
      describe: spec.describe,
      choices: spec.choices as string[] | undefined,
      defaultDescription:
        key === 'threads' ? `${value} (all cores)` : Array.isArray(value) ? value.join(',') : String(value),
      requiresArg: true,
    };
  }
  return options;
}

/** Picks the config fields out of parsed argv (camelCase keys as yargs provides them). */
export function configFromArgv(argv: Record<string, unknown>): Partial<Record<keyof TrainConfig, unknown>> {
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  for (const key of Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[]) {
    const value = argv[key];
    if (Array.isArray(value))
      out[key] = value[value.length - 1]; // a repeated flag: the last wins
    else if (value !== undefined) out[key] = value;
  }
  return out;
}
