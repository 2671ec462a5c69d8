import { EventEmitter } from 'node:events';

// When the reader of stdout goes away (`gradpool train --log json | head -1`), every later
// write fails with EPIPE, which Node raises as an 'error' event: unhandled, a stack trace. A
// Unix tool would die of SIGPIPE there; we exit 141 (128 + SIGPIPE) the same way, or, where a
// command subscribes (train: finish the step, checkpoint), let it stop in order.

const closed = new EventEmitter();
let watching = false;

export function watchStdout(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (closed.listenerCount('closed') > 0) closed.emit('closed');
    else process.exit(141);
  });
}

/** Calls `listener` (possibly more than once) when stdout's reader has gone; returns the unsubscribe. */
export function onStdoutClosed(listener: () => void): () => void {
  closed.on('closed', listener);
  return () => closed.off('closed', listener);
}
