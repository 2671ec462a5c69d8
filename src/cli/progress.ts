import { oversubscribedNote } from '../machine.js';
import type { EpochMetrics, TrainEvent } from '../train/trainer.js';

// Renders training events: a live bar per epoch and a summary table on a terminal, or one
// JSON object per line for machines.

export interface Renderer {
  event(e: TrainEvent): void;
  done(summary: {
    testAccuracy: number;
    testLoss: number;
    seconds: number;
    model: string | null;
    peakRssMB: number;
    retries: number;
  }): void;
}

export function jsonRenderer(write: (line: string) => void): Renderer {
  return {
    event(e) {
      if (e.type === 'start') {
        const { type: _, ...start } = e;
        write(JSON.stringify({ event: 'start', ...start }));
      } else if (e.type === 'epoch') {
        const { type: _, ...m } = e;
        write(JSON.stringify({ event: 'epoch', ...m }));
      }
    },
    done(summary) {
      write(JSON.stringify({ event: 'done', ...summary }));
    },
  };
}

const BAR = 28;

export function prettyRenderer(out: NodeJS.WriteStream): Renderer {
  const rows: EpochMetrics[] = [];
  let epochs = 0;
  const line = (text: string) => out.write(`\r\x1b[2K${text}`);
  return {
    event(e) {
      if (e.type === 'start') {
        epochs = e.config.epochs;
        out.write(
          `gradpool: ${e.layers.join('-')} ${e.config.activation}, ${e.params.toLocaleString('en-US')} parameters, ` +
            `${e.trainCount.toLocaleString('en-US')} train / ${e.testCount.toLocaleString('en-US')} test rows, ` +
            `${e.config.threads} thread${e.config.threads === 1 ? '' : 's'}, ${e.kernels} kernels\n`,
        );
        const note = oversubscribedNote(e.config.threads, e.cores);
        if (note) out.write(`note: ${note}\n`);
        const r = e.resumed;
        if (r?.finished) {
          const trained = r.epoch - 1 === 1 ? 'its 1 epoch' : `all ${r.epoch - 1} epochs`;
          out.write(
            `the checkpoint has finished ${trained}: nothing left to train (more with --epochs ${r.epoch} or above)\n`,
          );
          return;
        }
        if (r) out.write(`resumed at epoch ${r.epoch}, step ${r.step} of ${e.stepsPerEpoch}\n`);
        out.write(`${header()}\n`);
      } else if (e.type === 'step') {
        const filled = Math.round((BAR * e.step) / e.stepsPerEpoch);
        line(
          `epoch ${e.epoch}/${epochs} [${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}] ` +
            `${Math.round(e.samplesPerSec).toLocaleString('en-US')} samples/s  loss ${e.loss.toFixed(4)}`,
        );
      } else {
        rows.push(e);
        line(`${row(e, epochs)}\n`);
      }
    },
    done(summary) {
      const best = rows.reduce((a, b) => (b.testAccuracy > a.testAccuracy ? b : a), rows[0]);
      out.write(
        `done in ${summary.seconds.toFixed(1)} s: test accuracy ${(summary.testAccuracy * 100).toFixed(2)} %, ` +
          `test loss ${summary.testLoss.toFixed(4)}` +
          (best ? ` (best ${(best.testAccuracy * 100).toFixed(2)} % at epoch ${best.epoch})` : '') +
          (summary.model ? `; model written to ${summary.model}` : '') +
          (summary.retries ? `; ${summary.retries} step(s) recomputed after worker failures` : '') +
          '\n',
      );
    },
  };
}

function header(): string {
  return ['epoch', 'train loss', 'train acc', 'test loss', 'test acc', 'samples/s', 'seconds']
    .map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(11)))
    .join('');
}

function row(m: EpochMetrics, epochs: number): string {
  return [
    `${m.epoch}/${epochs}`.padEnd(8),
    m.trainLoss.toFixed(4).padStart(11),
    `${(m.trainAccuracy * 100).toFixed(2)}%`.padStart(11),
    m.testLoss.toFixed(4).padStart(11),
    `${(m.testAccuracy * 100).toFixed(2)}%`.padStart(11),
    Math.round(m.samplesPerSec).toLocaleString('en-US').padStart(11),
    m.seconds.toFixed(2).padStart(11),
  ].join('');
}
