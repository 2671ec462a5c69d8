import { oversubscribedNote } from '../machine.js';
import { kernelsDescription } from '../train/kernels.js';
import { SPANS_THE_RUN } from '../train/prepare.js';
import type { EpochMetrics, RunOutcome, TrainEvent } from '../train/trainer.js';

// Renders training events: a live bar per epoch and a summary table on a terminal, or one
// JSON object per line for machines.

export interface Renderer {
  event(e: TrainEvent): void;
  done(summary: {
    /** the epoch the written model is, and its test figures */
    keptEpoch: number;
    stopped: RunOutcome['stopped'];
    testLoss: number;
    /** classification */
    testAccuracy?: number;
    /** regression */
    testRmse?: number;
    testR2?: number;
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
      } else if (e.type === 'epoch' || e.type === 'end') {
        const { type, ...rest } = e;
        write(JSON.stringify({ event: type, ...rest }));
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
  let validating = false;
  let regress = false;
  let patience = 0;
  let outcome: RunOutcome | null = null;
  const line = (text: string) => out.write(`\r\x1b[2K${text}`);
  return {
    event(e) {
      if (e.type === 'start') {
        epochs = e.config.epochs;
        validating = e.config.validationSplit > 0;
        regress = e.task === 'regress';
        patience = e.config.earlyStopping;
        out.write(
          `gradpool: ${e.layers.join('-')} ${e.config.activation}, ${e.params.toLocaleString('en-US')} parameters, ` +
            `${e.trainCount.toLocaleString('en-US')} train / ${e.validationCount ? `${e.validationCount.toLocaleString('en-US')} validation / ` : ''}${e.testCount.toLocaleString('en-US')} test rows, ` +
            `${e.config.threads} thread${e.config.threads === 1 ? '' : 's'}, kernels: ${kernelsDescription({ label: e.kernels, implementation: e.implementation })}\n`,
        );
        if (e.nativeUnavailable) out.write(`note: native kernels unavailable: ${e.nativeUnavailable}\n`);
        const note = oversubscribedNote(e.config.threads, e.cores);
        if (note) out.write(`note: ${note}\n`);
        const r = e.resumed;
        if (r?.finished) {
          const trained = r.epoch - 1 === 1 ? 'its 1 epoch' : `all ${r.epoch - 1} epochs`;
          // under cosine and onecycle the run's length is part of every rate: it cannot grow
          const more = SPANS_THE_RUN.includes(e.config.lrSchedule)
            ? ''
            : ` (more with --epochs ${r.epoch} or above)`;
          out.write(
            r.stoppedEarly
              ? `the checkpoint's run was ended by early stopping after epoch ${r.epoch - 1}: nothing left to train\n`
              : `the checkpoint has finished ${trained}: nothing left to train${more}\n`,
          );
          return;
        }
        if (r) out.write(`resumed at epoch ${r.epoch}, step ${r.step} of ${e.stepsPerEpoch}\n`);
        out.write(`${header(validating, regress)}\n`);
      } else if (e.type === 'step') {
        const filled = Math.round((BAR * e.step) / e.stepsPerEpoch);
        line(
          `epoch ${e.epoch}/${epochs} [${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}] ` +
            `${Math.round(e.samplesPerSec).toLocaleString('en-US')} samples/s  loss ${e.loss.toFixed(4)}`,
        );
      } else if (e.type === 'epoch') {
        rows.push(e);
        line(`${row(e, epochs, validating, regress)}\n`);
      } else {
        outcome = e;
      }
    },
    done(summary) {
      const score = (m: EpochMetrics) => (regress ? (m.testR2 ?? 0) : (m.testAccuracy ?? 0));
      const best = rows.length > 0 ? rows.reduce((a, b) => (score(b) > score(a) ? b : a)) : null;
      const kept = outcome && validating ? ` ${keptText(outcome, patience, epochs)};` : '';
      const figures = regress
        ? `test RMSE ${figure(summary.testRmse)}, R² ${(summary.testR2 ?? Number.NaN).toFixed(4)}, `
        : `test accuracy ${((summary.testAccuracy ?? Number.NaN) * 100).toFixed(2)} %, `;
      const bestText = regress
        ? ` (best R² ${best && score(best).toFixed(4)} at epoch ${best?.epoch})`
        : ` (best ${best && (score(best) * 100).toFixed(2)} % at epoch ${best?.epoch})`;
      out.write(
        `done in ${summary.seconds.toFixed(1)} s:${kept} ${figures}` +
          `test loss ${summary.testLoss.toFixed(4)}` +
          (best && !kept ? bestText : '') +
          (summary.model ? `; model written to ${summary.model}` : '') +
          (summary.retries ? `; ${summary.retries} step(s) recomputed after worker failures` : '') +
          '\n',
      );
    },
  };
}

/** Which epoch the model is and why training ended, e.g. "kept epoch 7 (lowest validation loss 0.3012), stopped at epoch 10 of 30: …". */
export function keptText(o: RunOutcome, patience: number, epochs: number): string {
  const why =
    o.kept === 'best' ? `lowest validation loss ${o.valLoss?.toFixed(4)}` : 'the last epoch trained';
  const end =
    o.stopped === 'early-stopping'
      ? `stopped at epoch ${o.lastEpoch} of ${epochs}: no better validation loss in ${patience} epoch${patience === 1 ? '' : 's'}`
      : `all ${epochs} epochs trained`;
  return `kept epoch ${o.keptEpoch} (${why}), ${end}`;
}

function header(validating: boolean, regress: boolean): string {
  const columns = regress
    ? [
        'epoch',
        'train loss',
        ...(validating ? ['val loss', 'val RMSE'] : []),
        'test loss',
        'test RMSE',
        'test MAE',
        'test R²',
      ]
    : [
        'epoch',
        'train loss',
        'train acc',
        ...(validating ? ['val loss', 'val acc'] : []),
        'test loss',
        'test acc',
      ];
  return [...columns, 'lr', 'samples/s', 'seconds']
    .map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(11)))
    .join('');
}

const percent = (x: number | undefined) => `${((x ?? Number.NaN) * 100).toFixed(2)}%`;
/** A figure in a target's units: four significant digits, whatever its scale. */
const figure = (x: number | undefined) => (x ?? Number.NaN).toPrecision(4);

function row(m: EpochMetrics, epochs: number, validating: boolean, regress: boolean): string {
  const loss = (x: number | undefined) => (x ?? Number.NaN).toFixed(4);
  const scores = regress
    ? [
        m.trainLoss.toFixed(4),
        ...(validating ? [loss(m.valLoss), figure(m.valRmse)] : []),
        m.testLoss.toFixed(4),
        figure(m.testRmse),
        figure(m.testMae),
        loss(m.testR2),
      ]
    : [
        m.trainLoss.toFixed(4),
        percent(m.trainAccuracy),
        ...(validating ? [loss(m.valLoss), percent(m.valAccuracy)] : []),
        m.testLoss.toFixed(4),
        percent(m.testAccuracy),
      ];
  return [
    `${m.epoch}/${epochs}`.padEnd(8),
    ...[
      ...scores,
      m.lr.toPrecision(3),
      Math.round(m.samplesPerSec).toLocaleString('en-US'),
      m.seconds.toFixed(2),
    ].map((v) => v.padStart(11)),
  ].join('');
}
