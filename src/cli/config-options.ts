import type { Options } from 'yargs';
import { CONFIG_FIELDS, defaultConfig, type TrainConfig } from '../train/config.js';

// yargs options generated from the one config definition. Values arrive as strings and are
// validated by resolveConfig, so `--threads abc`, `--threads 0` and `--activation gelu` fail
// with our message (choices are listed in the help, not given to yargs) instead of becoming
// NaN, passing silently or getting yargs' multi-line "Invalid values".

export function configOptions(): Record<string, Options> {
  const defaults = defaultConfig();
  const options: Record<string, Options> = {};
  for (const [key, spec] of Object.entries(CONFIG_FIELDS)) {
    const value = defaults[key as keyof TrainConfig];
    if (spec.kind === 'boolean') {
      // a switch: --nesterov, --no-nesterov; no default here, so an unset one is not "given"
      options[spec.flag] = { type: 'boolean', describe: spec.describe, defaultDescription: String(value) };
      continue;
    }
    options[spec.flag] = {
      type: 'string',
      describe: spec.choices ? `${spec.describe}: ${spec.choices.join(' | ')}` : spec.describe,
      defaultDescription:
        key === 'threads' ? `${value} (all cores)` : Array.isArray(value) ? value.join(',') : String(value),
    };
  }
  return options;
}

/** Picks the config fields out of parsed argv (camelCase keys as yargs provides them). */
export function configFromArgv(argv: Record<string, unknown>): Partial<Record<keyof TrainConfig, unknown>> {
  const out: Partial<Record<keyof TrainConfig, unknown>> = {};
  for (const key of Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[]) {
    const value = argv[key];
    if (value === undefined) continue;
    if (CONFIG_FIELDS[key].kind === 'stringList') out[key] = Array.isArray(value) ? value : [value];
    else if (Array.isArray(value))
      out[key] = value[value.length - 1]; // a repeated flag: the last wins
    else out[key] = value;
  }
  return out;
}
