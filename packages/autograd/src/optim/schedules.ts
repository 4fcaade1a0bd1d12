// Learning-rate schedules. Each is a closed-form function of the step count (so state is just
// that count), applied to every parameter group as a factor of the group's initial lr, or as an
// absolute lr where the schedule defines one (one-cycle). As in PyTorch, constructing a schedule
// sets the step-0 lr, and each step() advances one step.

/** What a schedule needs of an optimizer (SGD, Adam, AdamW, ...): groups whose lr it sets. */
export interface ScheduledOptimizer {
  readonly paramGroups: { lr: number; initialLr: number }[];
}

/** What a schedule saves: its step count. */
export interface SchedulerState {
  step: number;
}

/** Base of the schedules: call step() after each optimizer step (or epoch, for epoch-based ones). */
export abstract class LRScheduler<O = unknown> {
  /** Steps taken so far. */
  stepCount = 0;

  constructor(
    readonly optimizer: ScheduledOptimizer,
    readonly options: O,
  ) {
    this.apply();
  }

  /** The lr of a group with initial lr `base` at step `t`. */
  abstract lrAt(t: number, base: number): number;

  /** Advances one step and sets the groups' lr. */
  step(): void {
    this.stepCount++;
    this.apply();
  }

  /** The lrs currently set, one per group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The step count, for checkpoints (JSON-serializable). */
  stateDict(): SchedulerState {
    return { step: this.stepCount };
  }

  /** Restores the step count and sets the lr for it. */
  loadStateDict(state: SchedulerState): void {
    this.stepCount = state.step;
    this.apply();
  }

  private apply(): void {
    for (const g of this.optimizer.paramGroups) g.lr = this.lrAt(this.stepCount, g.initialLr);
  }
}

/** lr = initial * gamma^floor(step / stepSize) (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends LRScheduler<{ stepSize: number; gamma?: number }> {
  lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** Math.floor(t / this.options.stepSize);
  }
}

/** lr = initial * gamma^(number of milestones <= step) (torch.optim.lr_scheduler.MultiStepLR). */
export class MultiStepLR extends LRScheduler<{ milestones: number[]; gamma?: number }> {
  lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** this.options.milestones.filter((m) => m <= t).length;
  }
}

/** Options of CosineAnnealingLR. */
export interface CosineOptions {
  /** Steps from the start (warm-up included) to the end of the cosine. */
  tMax: number;
  /** Final lr (default 0). */
  etaMin?: number;
  /** Linear warm-up steps before the cosine starts (default 0). */
  warmupSteps?: number;
  /** The warm-up starts at this fraction of the initial lr (default 0). */
  warmupStartFactor?: number;
}

/**
 * Optional linear warm-up from warmupStartFactor * initial to initial over warmupSteps, then
 * eta_min + (initial - eta_min) (1 + cos(pi (t - warmup) / (tMax - warmup))) / 2 (PyTorch's
 * CosineAnnealingLR in closed form when warmupSteps is 0); held at etaMin after tMax.
 */
export class CosineAnnealingLR extends LRScheduler<CosineOptions> {
  lrAt(t: number, base: number): number {
    const { tMax, etaMin = 0, warmupSteps = 0, warmupStartFactor = 0 } = this.options;
    if (t < warmupSteps) return base * (warmupStartFactor + (1 - warmupStartFactor) * (t / warmupSteps));
    const span = tMax - warmupSteps;
    const u = span <= 0 ? 1 : Math.min(1, (t - warmupSteps) / span);
    return etaMin + ((base - etaMin) * (1 + Math.cos(Math.PI * u))) / 2;
  }
}

/** Options of OneCycleLR (PyTorch's names in camelCase). */
export interface OneCycleOptions {
  /** Peak lr. */
  maxLr: number;
  /** Total number of steps (step() calls) of training. */
  totalSteps: number;
  /** Fraction of the steps spent rising (default 0.25 here; PyTorch's default is 0.3). */
  pctStart?: number;
  /** Starting lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Final lr = starting lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** 'linear' (default here) or 'cos' (PyTorch's default). */
  annealStrategy?: 'linear' | 'cos';
}

/**
 * One-cycle lr (torch.optim.lr_scheduler.OneCycleLR, two phases, without momentum cycling):
 * from maxLr / divFactor up to maxLr at step pctStart * totalSteps - 1, then down to
 * maxLr / divFactor / finalDivFactor at step totalSteps - 1. The recipe of the reference run
 * (0.02 -> 0.2 over 25%, linear to 0.0002) is { maxLr: 0.2, divFactor: 10, finalDivFactor: 100 }.
 * The lr is absolute: it overrides the groups' initial lr.
 */
export class OneCycleLR extends LRScheduler<OneCycleOptions> {
  lrAt(t: number): number {
    const {
      maxLr,
      totalSteps,
      pctStart = 0.25,
      divFactor = 25,
      finalDivFactor = 1e4,
      annealStrategy = 'linear',
    } = this.options;
    const initial = maxLr / divFactor;
    const final = initial / finalDivFactor;
    const peak = pctStart * totalSteps - 1;
    const last = totalSteps - 1;
    const anneal = (a: number, b: number, pct: number) =>
      annealStrategy === 'cos' ? b + ((a - b) * (1 + Math.cos(Math.PI * pct))) / 2 : a + (b - a) * pct;
    if (t <= peak) return anneal(initial, maxLr, peak <= 0 ? 1 : t / peak);
    return anneal(maxLr, final, Math.min(1, (t - peak) / (last - peak)));
  }
}

/** Options of LinearLR. */
export interface LinearOptions {
  /** Factor of the initial lr at step 0 (default 1/3, as PyTorch). */
  startFactor?: number;
  /** Factor reached at totalIters and held after (default 1). */
  endFactor?: number;
  /** Steps over which the factor changes (default 5, as PyTorch). */
  totalIters?: number;
}

/** lr = initial * (start + (end - start) * min(step, totalIters) / totalIters) (torch.optim.lr_scheduler.LinearLR). */
export class LinearLR extends LRScheduler<LinearOptions> {
  lrAt(t: number, base: number): number {
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = this.options;
    return base * (startFactor + ((endFactor - startFactor) * Math.min(t, totalIters)) / totalIters);
  }
}
