// Adam and AdamW by PyTorch's rule (torch.optim.Adam / AdamW, per parameter with step t):
//   g = -g if maximize
//   Adam:  g = g + wd * p            AdamW: p = p * (1 - lr * wd)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) with amsgrad
//   p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
// One dispatch for every parameter (`adamFlatStep` of @wgtorch/kernels-wgsl on flat buffers).

import type { AdamSegment } from '@wgtorch/kernels-wgsl';
import { adamFlatLaunched, adamFlatParams, type AdamFlatLaunch } from '@wgtorch/kernels-wgsl/ops';
import type { Parameter } from '../nn/module.js';
import { Optimizer, type Group, type GroupSpec, type LiveParam } from './optimizer.js';
import type { NamedArray } from './flat.js';

/** Hyperparameters of Adam and AdamW (PyTorch's names in camelCase). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay factor (default 1e-2). */
  weightDecay?: number;
  /** Divide by the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** A parameter group of Adam or AdamW: its parameters and any hyperparameters that differ from the defaults. */
export type AdamGroupSpec = GroupSpec<Required<AdamOptions>>;

/** A parameter group as Adam holds it; schedules change `lr`. */
export type AdamParamGroup = Group<Required<AdamOptions>>;

/** One parameter's state: its step count and moment estimates. */
export interface AdamParamState {
  step: number;
  expAvg: NamedArray;
  expAvgSq: NamedArray;
  /** With amsgrad only. */
  maxExpAvgSq?: NamedArray;
}

/** Adam or AdamW state as plain data: hyperparameters per group, and the state of each parameter that has stepped. */
export interface AdamState {
  groups: Omit<AdamParamGroup, 'params'>[];
  /** Keyed by the parameter's index over all groups in order ('0', '1', ...). */
  state: Map<string, AdamParamState>;
}

const KINDS = { expAvg: 'expAvg', expAvgSq: 'expAvgSq', maxExpAvgSq: 'maxExpAvgSq' } as const;

/**
 * Adam (torch.optim.Adam): weight decay as an L2 term in the gradient. Pass parameters, or
 * groups with their own hyperparameters. Parameters without a gradient are skipped.
 */
export class Adam extends Optimizer<Required<AdamOptions>, AdamState> {
  /** Step count of each parameter that has stepped (by index). */
  private readonly steps = new Map<number, number>();

  /** AdamW's decoupled weight decay (p *= 1 - lr * wd) instead of Adam's L2 term; subclasses inherit it. */
  static readonly decoupled: boolean = false;

  constructor(params: Parameter[] | AdamGroupSpec[], defaults: AdamOptions = {}) {
    const decoupled = (new.target as typeof Adam).decoupled;
    super(decoupled ? 'AdamW' : 'Adam', params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: decoupled ? 1e-2 : 0,
      amsgrad: false,
      maximize: false,
      ...Object.fromEntries(Object.entries(defaults).filter(([, v]) => v !== undefined)),
    });
    this.decoupled = decoupled;
  }

  /** Whether weight decay is decoupled from the gradient (AdamW). */
  protected readonly decoupled: boolean;

  protected checkGroup(g: AdamParamGroup): void {
    const [b1, b2] = g.betas;
    const bad = (what: string, v: unknown) => new Error(`${this.name}: invalid ${what} ${String(v)}.`);
    if (!(b1 >= 0 && b1 < 1)) throw bad('beta1 (betas[0], in [0, 1))', b1);
    if (!(b2 >= 0 && b2 < 1)) throw bad('beta2 (betas[1], in [0, 1))', b2);
    if (!(g.eps >= 0)) throw bad('eps (>= 0)', g.eps);
    if (!(g.weightDecay >= 0)) throw bad('weightDecay (>= 0)', g.weightDecay);
  }

  step(): void {
    const live = this.live();
    if (!live.length) return;
    // One dispatch per kernel variant; groups normally share one (amsgrad and maximize alike).
    const variants = new Map<string, LiveParam<Required<AdamOptions>>[]>();
    for (const l of live) {
      const key = `${l.group.amsgrad}/${l.group.maximize}`;
      variants.set(key, [...(variants.get(key) ?? []), l]);
    }
    const a = this.arena;
    const countStep = () => {
      for (const { k } of live) this.steps.set(k, (this.steps.get(k) ?? 0) + 1);
    };
    /** The segments of `ls`, `ahead` steps past the counts so far. */
    const segmentsOf = (ls: LiveParam<Required<AdamOptions>>[], ahead = 0): AdamSegment[] =>
      ls.map(({ group: g, k }) => ({
        ...this.segment(k),
        lr: g.lr,
        beta1: g.betas[0],
        beta2: g.betas[1],
        eps: g.eps,
        weightDecay: g.weightDecay,
        step: (this.steps.get(k) ?? 0) + ahead,
      }));
    const optionsOf = (ls: LiveParam<Required<AdamOptions>>[]) => {
      const { amsgrad, maximize } = ls[0].group;
      return { decoupled: this.decoupled, amsgrad, maximize };
    };
    // A captured step replays the update's first dispatch with the new step counts and rates
    // while nothing else changed (one kernel variant, the same settings slots).
    let captured: AdamFlatLaunch | undefined;
    let first = true;
    this.updateFlat(
      live,
      () => {
        countStep();
        for (const ls of variants.values()) {
          const segments = segmentsOf(ls);
          const { amsgrad } = ls[0].group;
          a.backend.k.adamFlatStep(
            a.get('params'),
            a.get('grads'),
            a.get(KINDS.expAvg),
            a.get(KINDS.expAvgSq),
            amsgrad ? a.get(KINDS.maxExpAvgSq) : null,
            segments,
            optionsOf(ls),
          );
          if (first && variants.size === 1) captured = adamFlatLaunched(segments);
        }
        first = false;
      },
      () => {
        if (!captured) return undefined;
        const [ls] = variants.values();
        const params = adamFlatParams(segmentsOf(ls, 1), optionsOf(ls), captured);
        if (params) countStep(); // else the update runs live and counts it
        return params;
      },
    );
  }

  /** The step count of a parameter (0 before its first step). */
  stepCount(p: Parameter): number {
    return this.steps.get(this.params.indexOf(p)) ?? 0;
  }

  /** Hyperparameters, step counts and moment estimates (read back from the GPU), for checkpoints. */
  async stateDict(): Promise<AdamState> {
    const ks = [...this.steps.keys()].sort((a, b) => a - b);
    const state = new Map<string, AdamParamState>();
    if (ks.length) {
      const m = await this.arena.read(KINDS.expAvg, ks);
      const v = await this.arena.read(KINDS.expAvgSq, ks);
      const amsgradKs = ks.filter((k) => this.groupOf(k).amsgrad);
      const vmax = amsgradKs.length ? await this.arena.read(KINDS.maxExpAvgSq, amsgradKs) : new Map();
      for (const k of ks) {
        const s: AdamParamState = { step: this.steps.get(k)!, expAvg: m.get(k)!, expAvgSq: v.get(k)! };
        if (vmax.has(k)) s.maxExpAvgSq = vmax.get(k);
        state.set(String(k), s);
      }
    }
    return { groups: this.groupsState(), state };
  }

  /** Restores what stateDict() returned (the optimizer must have been built over the same parameters). */
  loadStateDict(state: AdamState): void {
    this.checkGroups(state.groups);
    // Everything is checked before anything changes: a bad state leaves the optimizer as it was.
    const steps = new Map<number, number>();
    const values = { expAvg: new Map(), expAvgSq: new Map(), maxExpAvgSq: new Map() };
    for (const [key, s] of state.state) {
      const k = this.checkSaved(key, 'expAvg of parameter', s.expAvg);
      this.checkSaved(key, 'expAvgSq of parameter', s.expAvgSq);
      if (s.maxExpAvgSq)
        values.maxExpAvgSq.set(this.checkSaved(key, 'maxExpAvgSq of parameter', s.maxExpAvgSq), s.maxExpAvgSq.data);
      if (!Number.isInteger(s.step) || s.step < 1)
        throw new Error(`${this.name}.loadStateDict: parameter ${key} has step ${s.step}; steps count from 1.`);
      steps.set(k, s.step);
      values.expAvg.set(k, s.expAvg.data);
      values.expAvgSq.set(k, s.expAvgSq.data);
    }
    const amsgradIn = (k: number) => (state.groups[this.paramGroups.indexOf(this.groupOf(k))] ?? {}).amsgrad;
    const missing = [...steps.keys()].filter((k) => amsgradIn(k) && !values.maxExpAvgSq.has(k));
    if (missing.length) {
      throw new Error(
        `${this.name}.loadStateDict: amsgrad is on but parameters ${missing.join(', ')} have no maxExpAvgSq.`,
      );
    }
    state.groups.forEach((g, i) => Object.assign(this.paramGroups[i], g));
    this.steps.clear();
    for (const [k, t] of steps) this.steps.set(k, t);
    for (const kind of Object.values(KINDS)) {
      if (values[kind].size) this.arena.write(kind, values[kind]);
      else this.arena.reset(kind);
    }
  }

  private groupOf(k: number): AdamParamGroup {
    const p = this.params[k];
    return this.paramGroups.find((g) => g.params.includes(p))!;
  }
}

/**
 * AdamW (torch.optim.AdamW): Adam with weight decay decoupled from the gradient,
 * p *= 1 - lr * weightDecay before the update (default weightDecay 1e-2, as PyTorch).
 */
export class AdamW extends Adam {
  static override readonly decoupled = true;
}
