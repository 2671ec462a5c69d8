import type { Loss } from '../nn/layout.js';

// What a model predicts: a class (softmax + cross-entropy) or real values (identity + squared error).

export type Task = 'classify' | 'regress';
export const TASKS: readonly Task[] = ['classify', 'regress'];

/** The network's loss head for a task. */
export const LOSS_OF: Record<Task, Loss> = { classify: 'cross-entropy', regress: 'squared-error' };

/** Floats per row of a split's targets: a class index, or one value per output. */
export const targetWidth = (task: Task, outputs: number): number => (task === 'classify' ? 1 : outputs);
