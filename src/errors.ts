// Typed errors carry the process exit code the CLI must use (DESIGN: 1 training failed,
// 2 bad usage or bad input). Their message is one line, meant for the user as is.

export class GradpoolError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag, option or config value that cannot work. Exit code 2. */
export class UsageError extends GradpoolError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** A dataset that is missing, malformed or inconsistent. Exit code 2. */
export class DataError extends GradpoolError {
  constructor(message: string) {
    super(message, 2);
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
  constructor(message: string) {
    super(message, 1);
  }
}
