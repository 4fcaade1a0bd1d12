// The base of the optimizers (torch.optim.Optimizer): parameter groups with their own
// hyperparameters, zeroGrad, and the flat buffers every step updates in one dispatch. Each
// optimizer states its rule in step() and its state in stateDict()/loadStateDict().

import { parseSafetensors, runtime, serializeSafetensors, type SafeArray } from '@wgtorch/tensor';
import type { Parameter } from '../nn/module.js';
import { zeroGrads } from '../nn/module.js';
import { FlatArena } from './flat.js';

/** Hyperparameters every optimizer has. */
export interface BaseOptions {
  /** Learning rate. */
  lr: number;
}

/** A parameter group as passed in: its parameters and any hyperparameters that differ from the defaults. */
export type GroupSpec<O> = Partial<O> & { params: Parameter[] };

/** A parameter group as the optimizer holds it; schedules change `lr`. */
export type Group<O> = O & {
  params: Parameter[];
  /** The lr the group started with (schedules scale from it). */
  initialLr: number;
};

/** A parameter that has a gradient this step: its group and its index over all groups. */
export interface LiveParam<O> {
  p: Parameter;
  group: Group<O>;
  /** Index over all groups in order: the key of its state and its segment in the flat buffers. */
  k: number;
}

/**
 * Base class of the optimizers. Pass parameters, or groups such as
 * `[{params: weights, weightDecay: 5e-4}, {params: biases, weightDecay: 0}]`.
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions, S extends object = object> {
  readonly paramGroups: Group<O>[];
  /** Every parameter over all groups, in order (the index is the state's key). */
  protected readonly params: Parameter[];
  /** The flat buffers of the parameters, gradients and state. */
  protected readonly arena: FlatArena;

  constructor(
    /** The optimizer's name, for errors. */
    protected readonly name: string,
    params: Parameter[] | GroupSpec<O>[],
    defaults: O,
  ) {
    const specs: GroupSpec<O>[] =
      params.length && !('params' in params[0]) ? [{ params: params as Parameter[] } as GroupSpec<O>] : [];
    if (!specs.length) specs.push(...(params as GroupSpec<O>[]));
    this.paramGroups = specs.map((spec) => {
      const given = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined));
      const group = { ...defaults, ...given, params: [...spec.params] } as Group<O>;
      group.initialLr = group.lr;
      if (!(group.lr >= 0)) throw new Error(`${name}: invalid learning rate ${group.lr}.`);
      this.checkGroup(group);
      return group;
    });
    this.params = this.paramGroups.flatMap((g) => g.params);
    const seen = new Set<Parameter>();
    for (const p of this.params) {
      if (seen.has(p)) throw new Error(`${name}: a parameter appears in more than one group (or twice in one).`);
      seen.add(p);
    }
    this.arena = new FlatArena(this.params, name);
    // On the GPU the parameters move into the flat buffer now: the first forward already sees
    // their lasting storage, so what kernels derive from it (packed weights) is made once.
    if (this.arena.backend.name === 'gpu') this.params.forEach((_, k) => this.arena.loadParam(k));
  }

  /** Throws on hyperparameters the rule does not allow (called for each group). */
  protected abstract checkGroup(group: Group<O>): void;

  /** Updates the parameters in place from their `.grad` (recorded on the GPU; no readback). */
  abstract step(): void;

  /** Hyperparameters and state as plain data (state tensors read back from the GPU), for checkpoints. */
  abstract stateDict(): Promise<S>;

  /** Restores what stateDict() returned, all or nothing (the optimizer must be over the same parameters). */
  abstract loadStateDict(state: S): void;

  /**
   * The state dict as safetensors bytes: each state array a tensor named by its path
   * (`momentumBuffers.3`, `state.3.expAvg`), everything else JSON in the metadata.
   */
  async saveBytes(): Promise<Uint8Array> {
    const tensors = new Map<string, { shape: readonly number[]; data: SafeArray }>();
    const skeleton = JSON.stringify(encodeState(await this.stateDict(), '', tensors));
    return serializeSafetensors(tensors, { optimizer: this.name, state: skeleton });
  }

  /** Loads bytes from saveBytes() (of the same kind of optimizer over the same parameters). */
  loadBytes(bytes: Uint8Array, source = 'optimizer state'): void {
    const file = parseSafetensors(bytes, source);
    if (file.metadata.optimizer !== this.name || !file.metadata.state) {
      throw new Error(
        `${source}: holds ${file.metadata.optimizer ? `${file.metadata.optimizer} state` : 'no optimizer state'}, ` +
          `not ${this.name}'s; save it with ${this.name}.saveBytes().`,
      );
    }
    this.loadStateDict(decodeState(JSON.parse(file.metadata.state), file.tensors, source) as S);
  }

  /**
   * Resets the gradients of every parameter: released with `setToNone` (the default, as
   * PyTorch 2), or zeroed in place.
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrads(this.params, options.setToNone ?? true);
  }

  /** Parameters with a gradient, in order; those without one are skipped this step (as PyTorch). */
  protected live(): LiveParam<O>[] {
    const out: LiveParam<O>[] = [];
    let k = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad && !p.grad.isDisposed) out.push({ p, group, k });
        k++;
      }
    }
    return out;
  }

  /**
   * Runs `update` on the flat buffers: brings the live parameters in (on the GPU they live
   * there after the first step), copies their gradients in, and the new values out afterwards.
   * `params`: the params of update's one dispatch now, or undefined where it must run again.
   */
  protected updateFlat(live: LiveParam<O>[], update: () => void, params?: () => ArrayBufferView | undefined): void {
    for (const { p, k } of live) {
      this.arena.loadParam(k);
      this.arena.gather('grads', k, p.grad!.raw);
    }
    // `update` reads hyperparameters that change between steps (a schedule's lr, Adam's step
    // count): a captured training step (capture of @wgtorch/tensor) records it again at each replay,
    // or, where `params` gives them, its one dispatch with new params.
    if (this.arena.backend.name === 'gpu') runtime().dispatcher.rerunOnReplay(update, params);
    else update();
    for (const { k } of live) this.arena.storeParam(k);
  }

  /** The segment of parameter k in the flat buffers. */
  protected segment(k: number): { offset: number; size: number } {
    return { offset: this.arena.offsets[k], size: this.params[k].size };
  }

  /** Checks that a saved state's groups fit this optimizer. */
  protected checkGroups(groups: readonly unknown[]): void {
    if (groups.length !== this.paramGroups.length) {
      throw new Error(
        `${this.name}.loadStateDict: the state has ${groups.length} parameter groups, ` +
          `this optimizer ${this.paramGroups.length}.`,
      );
    }
  }

  /** The groups' hyperparameters without their parameters, as state dicts hold them. */
  protected groupsState(): Omit<Group<O>, 'params'>[] {
    return this.paramGroups.map(({ params: _p, ...rest }) => ({ ...rest }) as Omit<Group<O>, 'params'>);
  }

  /** Checks that a saved tensor `what` fits parameter `key` (shape and count); returns its index. */
  protected checkSaved(key: string, what: string, v: { shape: readonly number[]; data: ArrayLike<number> }): number {
    const k = Number(key);
    const p = Number.isInteger(k) ? this.params[k] : undefined;
    const fits =
      p && v.shape.length === p.ndim && v.shape.every((d, i) => d === p.shape[i]) && v.data.length === p.size;
    if (!fits) {
      const param = p
        ? `parameter ${key} has [${p.shape.join(', ')}]`
        : `this optimizer has no parameter ${key} (it has ${this.params.length})`;
      throw new Error(
        `${this.name}.loadStateDict: ${what} ${key} has shape [${v.shape.join(', ')}] (${v.data.length} values), ` +
          `${param}; the state is not from this optimizer's parameters.`,
      );
    }
    return k;
  }

  /** Releases the optimizer's buffers. */
  dispose(): void {
    this.arena.dispose();
  }
}

/** Plain data with Maps and arrays of values ({shape, data: Float32Array}) as JSON, the arrays moved to `tensors`. */
function encodeState(
  v: unknown,
  path: string,
  tensors: Map<string, { shape: readonly number[]; data: SafeArray }>,
): unknown {
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [k, encodeState(x, join(path, String(k)), tensors)]) };
  if (Array.isArray(v)) return v.map((x, i) => encodeState(x, join(path, String(i)), tensors));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.data instanceof Float32Array && Array.isArray(o.shape)) {
      tensors.set(path, { shape: o.shape as number[], data: o.data });
      return { $tensor: path };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, encodeState(x, join(path, k), tensors)]));
  }
  return v;
}

function decodeState(
  v: unknown,
  tensors: Map<string, { shape: readonly number[]; data: unknown }>,
  source: string,
): unknown {
  if (Array.isArray(v)) return v.map((x) => decodeState(x, tensors, source));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.$map))
      return new Map(o.$map.map(([k, x]: [string, unknown]) => [k, decodeState(x, tensors, source)]));
    if (typeof o.$tensor === 'string') {
      const t = tensors.get(o.$tensor);
      if (!t) throw new Error(`${source}: the state names tensor '${o.$tensor}', which the file lacks (damaged?).`);
      return { shape: [...t.shape], data: Float32Array.from(t.data as ArrayLike<number>) };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeState(x, tensors, source)]));
  }
  return v;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
