import { onStdoutClosed } from './stdout-closed.js';

// A long command that stops in order: the first SIGINT or SIGTERM (or stdout's reader going
// away, `| head`) aborts the signal, so training finishes its step, checkpoints and exits
// 130 / 143 / 141; a second SIGINT or SIGTERM exits at once.

export interface Stopper {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function stopOnSignals(what: string): Stopper {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(signal === 'SIGTERM' ? 143 : 130);
    process.stderr.write(`\ngradpool: ${signal}: ${what} (again to quit at once)\n`);
    stop.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const offClosed = onStdoutClosed(() => {
    if (stop.signal.aborted) return;
    process.stderr.write(`gradpool: stdout closed: ${what}\n`);
    stop.abort(new Error('SIGPIPE'));
  });
  return {
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      offClosed();
    },
  };
}
