// SGD with momentum, dampening, Nesterov and weight decay, by PyTorch's rule (torch.optim.SGD):
//   d = g + wd * p
//   buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// One fused launch per parameter group (`sgdStep` of @wgtorch/kernels-wgsl) on the GPU.

import type { Tensor as DeviceTensor } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { backendOf, type Backend, type Raw } from '../backend.js';
import { sameShape } from '../shape.js';
import type { Parameter } from '../nn/module.js';

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

/** A parameter group: its parameters and any hyperparameters that differ from the defaults. */
export interface ParamGroupSpec extends Partial<SgdOptions> {
  params: Parameter[];
}

/** A parameter group as the optimizer holds it; schedules change `lr`. */
export interface ParamGroup extends Required<SgdOptions> {
  params: Parameter[];
  /** The lr the group started with (schedules scale from it). */
  initialLr: number;
}

/** SGD state as plain data: hyperparameters per group and the momentum buffers by parameter index. */
export interface SgdState {
  groups: Omit<ParamGroup, 'params'>[];
  /** Momentum buffers keyed by the parameter's index over all groups in order ('0', '1', ...). */
  momentumBuffers: Map<string, { shape: number[]; data: Float32Array }>;
}

/**
 * Stochastic gradient descent (torch.optim.SGD). Pass parameters, or groups such as
 * `[{params: weights, weightDecay: 5e-4}, {params: bnAndBias, weightDecay: 0}]`.
 * Parameters without a gradient are skipped.
 */
export class SGD {
  readonly paramGroups: ParamGroup[];
  private readonly buffers = new Map<Parameter, Raw>();

  constructor(params: Parameter[] | ParamGroupSpec[], defaults: SgdOptions) {
    const specs: ParamGroupSpec[] =
      params.length && !('params' in params[0]) ? [{ params: params as Parameter[] }] : (params as ParamGroupSpec[]);
    this.paramGroups = specs.map((g) => {
      const group: ParamGroup = {
        params: [...g.params],
        lr: g.lr ?? defaults.lr,
        momentum: g.momentum ?? defaults.momentum ?? 0,
        dampening: g.dampening ?? defaults.dampening ?? 0,
        nesterov: g.nesterov ?? defaults.nesterov ?? false,
        weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0,
        initialLr: g.lr ?? defaults.lr,
      };
      if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
        throw new Error('SGD: Nesterov momentum requires a momentum > 0 and zero dampening (as in PyTorch).');
      }
      if (!(group.lr >= 0)) throw new Error(`SGD: invalid learning rate ${group.lr}.`);
      return group;
    });
    const seen = new Set<Parameter>();
    for (const p of this.paramGroups.flatMap((g) => g.params)) {
      if (seen.has(p)) throw new Error('SGD: a parameter appears in more than one group (or twice in one).');
      seen.add(p);
    }
  }

  /** Releases every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.zeroGrad();
  }

  /** Updates the parameters in place from their `.grad` (recorded on the GPU; no readback). */
  step(): void {
    for (const g of this.paramGroups) {
      const live = g.params.filter((p) => p.grad && !p.grad.isDisposed);
      if (!live.length) continue;
      const b = backendOf(live[0].backend);
      // Parameters whose momentum buffer starts now and those that have one go in separate launches.
      const fresh = g.momentum !== 0 ? live.filter((p) => !this.buffers.has(p)) : [];
      const old = g.momentum !== 0 ? live.filter((p) => this.buffers.has(p)) : live;
      for (const p of fresh) this.buffers.set(p, b.k.fill([...p.shape], 0));
      if (fresh.length) this.update(b, g, fresh, true);
      if (old.length) this.update(b, g, old, false);
    }
  }

  private update(b: Backend, g: ParamGroup, ps: Parameter[], firstStep: boolean): void {
    const o = {
      lr: g.lr,
      momentum: g.momentum,
      dampening: g.dampening,
      nesterov: g.nesterov,
      weightDecay: g.weightDecay,
      firstStep,
    };
    const bufs = g.momentum !== 0 ? ps.map((p) => this.buffers.get(p)!) : [];
    b.k.sgdStep(
      ps.map((p) => p.raw),
      ps.map((p) => p.grad!.raw),
      bufs,
      o,
    );
  }

  /** The momentum buffer of a parameter, if it has one yet (a device tensor or a float64 array). */
  momentumBuffer(p: Parameter): DeviceTensor | F64 | undefined {
    return this.buffers.get(p);
  }

  /** Hyperparameters and momentum buffers (read back from the GPU), for checkpoints. */
  async stateDict(): Promise<SgdState> {
    const momentumBuffers = new Map<string, { shape: number[]; data: Float32Array }>();
    let i = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const buf = this.buffers.get(p);
        if (buf) {
          const b = backendOf(p.backend);
          momentumBuffers.set(String(i), { shape: [...b.shape(buf)], data: Float32Array.from(await b.toArray(buf)) });
        }
        i++;
      }
    }
    return { groups: this.paramGroups.map(({ params: _p, ...rest }) => ({ ...rest })), momentumBuffers };
  }

  /** Restores what stateDict() returned (the optimizer must have been built over the same parameters). */
  loadStateDict(state: SgdState): void {
    if (state.groups.length !== this.paramGroups.length) {
      throw new Error(
        `SGD.loadStateDict: the state has ${state.groups.length} parameter groups, ` +
          `this optimizer ${this.paramGroups.length}.`,
      );
    }
    const all = this.paramGroups.flatMap((g) => g.params);
    // Everything is checked before anything changes: a bad state leaves the optimizer as it was.
    for (const [k, v] of state.momentumBuffers) {
      const p = all[Number(k)];
      if (!p || !sameShape(v.shape, p.shape) || v.data.length !== p.size) {
        const param = p
          ? `parameter ${k} has [${p.shape.join(', ')}]`
          : `this optimizer has no parameter ${k} (it has ${all.length})`;
        throw new Error(
          `SGD.loadStateDict: momentum buffer ${k} has shape [${v.shape.join(', ')}] (${v.data.length} values), ` +
            `${param}; the state is not from this optimizer's parameters.`,
        );
      }
    }
    state.groups.forEach((s, i) => Object.assign(this.paramGroups[i], s));
    for (const [p, buf] of this.buffers) backendOf(p.backend).release(buf);
    this.buffers.clear();
    for (const [k, v] of state.momentumBuffers) {
      const p = all[Number(k)];
      this.buffers.set(p, backendOf(p.backend).fromArray(v.data, p.shape));
    }
  }

  /** Releases the momentum buffers. */
  dispose(): void {
    for (const [p, buf] of this.buffers) backendOf(p.backend).release(buf);
    this.buffers.clear();
  }
}
