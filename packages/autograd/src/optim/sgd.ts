// SGD with momentum, dampening, Nesterov and weight decay, by PyTorch's rule (torch.optim.SGD):
//   d = g + wd * p
//   buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// One dispatch for every parameter (`sgdFlatStep` of @wgtorch/kernels-wgsl on flat buffers).

import type { Tensor as DeviceTensor } from '@wgtorch/tensor';
import type { F64, SgdSegment } from '@wgtorch/kernels-wgsl';
import { sgdFlatLaunched, sgdFlatParams, type SgdFlatLaunch } from '@wgtorch/kernels-wgsl/ops';
import type { Parameter } from '../nn/module.js';
import { Optimizer, type Group, type GroupSpec, type LiveParam } from './optimizer.js';
import type { NamedArray } from './flat.js';

/** Hyperparameters of SGD (PyTorch's names in camelCase). */
export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** A parameter group of SGD: its parameters and any hyperparameters that differ from the defaults. */
export type ParamGroupSpec = GroupSpec<Required<SgdOptions>>;

/** A parameter group as SGD holds it; schedules change `lr`. */
export type ParamGroup = Group<Required<SgdOptions>>;

/** SGD state as plain data: hyperparameters per group and the momentum buffers by parameter index. */
export interface SgdState {
  groups: Omit<ParamGroup, 'params'>[];
  /** Momentum buffers keyed by the parameter's index over all groups in order ('0', '1', ...). */
  momentumBuffers: Map<string, NamedArray>;
}

/** A kernel segment before segmentsOf() fills it in. */
const SEGMENT: SgdSegment = {
  offset: 0,
  size: 0,
  lr: 0,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
  firstStep: true,
};

/**
 * Stochastic gradient descent (torch.optim.SGD). Pass parameters, or groups such as
 * `[{params: weights, weightDecay: 5e-4}, {params: bnAndBias, weightDecay: 0}]`.
 * Parameters without a gradient are skipped.
 */
export class SGD extends Optimizer<Required<SgdOptions>, SgdState> {
  /** Parameters (by index) whose momentum buffer exists: it starts at their first step. */
  private readonly hasBuffer = new Set<number>();
  /** The last step's segments (segmentsOf). */
  private segments: SgdSegment[] | undefined;

  constructor(params: Parameter[] | ParamGroupSpec[], defaults: SgdOptions) {
    super('SGD', params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...defaults });
  }

  protected checkGroup(g: ParamGroup): void {
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch).');
    }
  }

  step(): void {
    const live = this.live();
    if (!live.length) return;
    const a = this.arena;
    // A captured step replays the update's first dispatch with new rates while nothing else changed.
    let captured: SgdFlatLaunch | undefined;
    let first = true;
    this.updateFlat(
      live,
      () => {
        const segments = this.segmentsOf(live);
        const momentum = segments.some((s) => s.momentum !== 0) ? a.get('momentum') : null;
        a.backend.k.sgdFlatStep(a.get('params'), a.get('grads'), momentum, segments);
        if (first) captured = sgdFlatLaunched(segments);
        first = false;
        for (const { group, k } of live) if (group.momentum !== 0) this.hasBuffer.add(k);
      },
      () => (captured ? sgdFlatParams(this.segmentsOf(live), captured) : undefined),
    );
  }

  /** The kernel's segments for `live`, with the groups' current settings (one array kept while `live` repeats). */
  private segmentsOf(live: LiveParam<Required<SgdOptions>>[]): SgdSegment[] {
    let segs = this.segments;
    if (!segs || segs.length !== live.length || live.some(({ k }, i) => segs![i].offset !== this.arena.offsets[k])) {
      segs = this.segments = live.map(({ k }) => ({
        ...SEGMENT,
        offset: this.arena.offsets[k],
        size: this.params[k].size,
      }));
    }
    live.forEach(({ group: g, k }, i) => {
      const s = segs![i];
      s.lr = g.lr;
      s.momentum = g.momentum;
      s.dampening = g.dampening;
      s.nesterov = g.nesterov;
      s.weightDecay = g.weightDecay;
      s.firstStep = !this.hasBuffer.has(k);
    });
    return segs;
  }

  /**
   * A copy of a parameter's momentum buffer, if it has one yet (a device tensor or a float64
   * array, which the caller releases).
   */
  momentumBuffer(p: Parameter): DeviceTensor | F64 | undefined {
    const k = this.params.indexOf(p);
    return this.hasBuffer.has(k) ? this.arena.slice('momentum', k) : undefined;
  }

  /** Hyperparameters and momentum buffers (read back from the GPU), for checkpoints. */
  async stateDict(): Promise<SgdState> {
    const bufs = this.hasBuffer.size
      ? await this.arena.read(
          'momentum',
          [...this.hasBuffer].sort((a, b) => a - b),
        )
      : [];
    const momentumBuffers = new Map<string, NamedArray>();
    for (const [k, v] of bufs) momentumBuffers.set(String(k), v);
    return { groups: this.groupsState(), momentumBuffers };
  }

  /** Restores what stateDict() returned (the optimizer must have been built over the same parameters). */
  loadStateDict(state: SgdState): void {
    this.checkGroups(state.groups);
    // Everything is checked before anything changes: a bad state leaves the optimizer as it was.
    const values = new Map<number, ArrayLike<number>>();
    for (const [key, v] of state.momentumBuffers) values.set(this.checkSaved(key, 'momentum buffer', v), v.data);
    state.groups.forEach((s, i) => Object.assign(this.paramGroups[i], s));
    this.hasBuffer.clear();
    for (const k of values.keys()) this.hasBuffer.add(k);
    if (values.size) this.arena.write('momentum', values);
    else this.arena.reset('momentum');
  }
}
