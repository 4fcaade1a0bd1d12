// The trainer's optimizer and learning-rate schedules, from a TrainConfig. No Node built-ins:
// the browser demo builds its optimizer with the same functions.

import {
  CosineAnnealingLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  SGD,
  type LRScheduler,
  type Parameter,
} from '@wgtorch/autograd';
import type { ResNet20 } from '../model.js';
import type { TrainConfig } from './config.js';

/** Parameters that get weight decay: conv and linear weights (not BN parameters, not biases). */
export function decayGroups(model: ResNet20, decayAll: boolean): { decay: Parameter[]; noDecay: Parameter[] } {
  const decay: Parameter[] = [];
  const noDecay: Parameter[] = [];
  for (const [, p] of model.namedParameters()) (decayAll || p.ndim > 1 ? decay : noDecay).push(p);
  return { decay, noDecay };
}

/** The trainer's optimizer: SGD over decayGroups' two groups (weight decay on the first only, unless decayAll). */
export function makeOptimizer(model: ResNet20, cfg: TrainConfig): SGD {
  const { decay, noDecay } = decayGroups(model, cfg.decayAll);
  return new SGD(
    [
      { params: decay, weightDecay: cfg.weightDecay },
      { params: noDecay, weightDecay: cfg.decayAll ? cfg.weightDecay : 0 },
    ],
    { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay },
  );
}

export function makeSchedule(cfg: TrainConfig, opt: SGD, totalSteps: number): LRScheduler {
  switch (cfg.schedule) {
    case 'onecycle':
      // The reference recipe: lr/10 -> lr over the warm-up, then linearly to lr/1000.
      return new OneCycleLR(opt, {
        maxLr: cfg.lr,
        totalSteps,
        pctStart: cfg.warmup,
        divFactor: 10,
        finalDivFactor: 100,
        annealStrategy: 'linear',
      });
    case 'cosine':
      return new CosineAnnealingLR(opt, {
        tMax: totalSteps,
        warmupSteps: Math.round(cfg.warmup * totalSteps),
        warmupStartFactor: 0.1,
      });
    case 'multistep':
      return new MultiStepLR(opt, { milestones: cfg.milestones.map((f) => Math.round(f * totalSteps)), gamma: 0.1 });
    case 'linear':
      return new LinearLR(opt, { startFactor: 1, endFactor: 0, totalIters: totalSteps });
    case 'constant':
      return new MultiStepLR(opt, { milestones: [], gamma: 1 });
  }
}

/** The lr a run's schedule ends at and holds after its last step (the same for any number of steps). */
export function finalLr(cfg: TrainConfig): number {
  const steps = 1000;
  return makeSchedule(cfg, new SGD([], { lr: cfg.lr }), steps).lrAt(steps, cfg.lr);
}
