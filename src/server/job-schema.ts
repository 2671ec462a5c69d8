import { CONFIG_FIELDS } from '../train/config.js';

// The JSON schema of a job, generated from the one config definition the CLI uses, in
// camelCase. Types are checked here; ranges and meaning by resolveConfig, with the same
// messages as the CLI.

export function jobBodySchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_FIELDS)) {
    if (spec.kind === 'intList')
      properties[key] = { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 64 };
    else if (spec.kind === 'stringList')
      properties[key] = {
        anyOf: [
          { type: 'string', maxLength: 4096 },
          { type: 'array', items: { type: 'string', maxLength: 4096 }, maxItems: 4096 },
        ],
      };
    else if (spec.kind === 'int') properties[key] = { type: 'integer' };
    else if (spec.kind === 'number') properties[key] = { type: 'number' };
    else if (spec.kind === 'boolean') properties[key] = { type: 'boolean' };
    else if (spec.kind === 'choice') properties[key] = { type: 'string', enum: [...(spec.choices ?? [])] };
    else properties[key] = { type: 'string', maxLength: 4096 };
  }
  return { type: 'object', properties, additionalProperties: false };
}
