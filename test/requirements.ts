import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { FASHION_MNIST_DIR } from '../src/data/dataset.js';

// Suites that need something npm does not install follow one rule. Outside CI a missing
// piece skips the suite with one line naming it and the command that installs it; under
// CI=true (set by .ci/run, which installs everything) it fails the run, so a CI machine
// that lost a package cannot pass by testing less.

export interface Requirement {
  /** what the suite needs, as a user would name it */
  readonly what: string;
  /** the command that installs it */
  readonly install: string;
  /** whether it is here */
  readonly present: boolean;
}

export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/**
 * Options for the describe() of a suite needing `r`: nothing when it is present; otherwise a
 * skip with its reason, and under CI a failing test beside the skipped suite.
 */
export function needs(r: Requirement): { skip?: string } {
  if (r.present) return {};
  const reason = `${r.what} is not installed (${r.install})`;
  if (inCI()) {
    it(`CI=true: ${r.what} must be installed`, () => {
      throw new Error(`${reason}; .ci/run installs it`);
    });
  }
  return { skip: reason };
}

const onPath = (binary: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;

/** Redis: the one .ci/run starts (GRADPOOL_TEST_REDIS), or a redis-server binary to start. */
export const REDIS: Requirement = {
  what: 'redis-server',
  install: 'sudo apt-get install redis-server, or set GRADPOOL_TEST_REDIS=redis://HOST:PORT',
  present: Boolean(process.env.GRADPOOL_TEST_REDIS) || onPath('redis-server'),
};

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM: Requirement = {
  what: 'chromium',
  install: 'sudo apt-get install chromium',
  present: existsSync(CHROMIUM_PATH),
};

export const FASHION_MNIST: Requirement = {
  what: 'Fashion-MNIST',
  install: 'sudo apt-get install dataset-fashion-mnist, or set FASHION_MNIST=DIR',
  present: existsSync(process.env.FASHION_MNIST || FASHION_MNIST_DIR),
};
