// Typed errors carry the process exit code the CLI must use (1 training failed, 2 bad usage
// or bad input). Their message is one line, meant for the user as is.
//
// A message about a setting names it the way the reader gave it: the library and the HTTP
// API by its field (`batchSize`), the CLI by its flag (`--batch-size`). Such a message is
// written once, as a function of a Naming; `message` is the field-named text, and the CLI
// prints describe(flagNaming).

/** How a message names a setting, given the setting's field (camelCase) name. */
export type Naming = (field: string) => string;

/** Settings as the library and the job API call them: the field itself. */
export const fieldNaming: Naming = (field) => field;

/** Settings as the CLI calls them: `batchSize` → `--batch-size` (other names, like GRADPOOL_SPIN, as they are). */
export const flagNaming: Naming = (field) =>
  /^[a-z][a-zA-Z0-9]*$/.test(field) ? `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : field;

/** A message, or a message that names settings through a Naming. */
export type Message = string | ((name: Naming) => string);

export class GradpoolError extends Error {
  private readonly phrase: Message;

  constructor(
    message: Message,
    readonly exitCode: number,
    /** the setting the error is about, when it is about one (the API's `field`) */
    readonly field?: string,
  ) {
    super(typeof message === 'string' ? message : message(fieldNaming));
    this.name = new.target.name;
    this.phrase = message;
  }

  /** The message with settings named by `name`. */
  describe(name: Naming): string {
    return typeof this.phrase === 'string' ? this.phrase : this.phrase(name);
  }
}

/** A flag, option or config value that cannot work. Exit code 2. */
export class UsageError extends GradpoolError {
  constructor(message: Message, field?: string) {
    super(message, 2, field);
  }
}

/** A dataset that is missing, malformed or inconsistent. Exit code 2. */
export class DataError extends GradpoolError {
  constructor(message: Message, field?: string) {
    super(message, 2, field);
  }
}

/** A model or checkpoint file that is not what we wrote. Exit code 2. */
export class ModelFileError extends GradpoolError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** Training started but could not finish (divergence, a worker failure). Exit code 1. */
export class TrainingError extends GradpoolError {
  constructor(message: Message) {
    super(message, 1);
  }
}
