// Modules: PyTorch's nn.Module. Parameters and child modules are found from the instance's own
// properties, in the order they were assigned (so `this.conv1 = new Conv2d(...)` names
// `conv1.weight` as in PyTorch); buffers are registered by name. State dicts use PyTorch's
// dotted names and load in place.

import { readSafetensors, writeSafetensors, runtime, Tensor as DeviceTensor, type SafeArray } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { Tensor, tidy } from '../tensor.js';
import { backendOf, type BackendName } from '../backend.js';
import { writeValues } from './init.js';

/** A tensor that a Module trains: requires grad, and is never disposed by tidy(). */
export class Parameter extends Tensor {
  /** Wraps storage (takes ownership); requiresGrad defaults to true. */
  constructor(data: DeviceTensor | F64, options: { requiresGrad?: boolean } = {}) {
    super(data, { requiresGrad: options.requiresGrad ?? true, untracked: true });
  }

  /** A parameter of the given shape filled with `value`. */
  static full(shape: readonly number[], value: number, backend: BackendName = 'gpu'): Parameter {
    const n = shape.reduce((a, d) => a * d, 1);
    return new Parameter(backendOf(backend).fromArray(new Float32Array(n).fill(value), shape) as DeviceTensor | F64);
  }
}

/** A value a state dict entry can hold: a tensor, or values with a shape (e.g. from a safetensors file). */
export type StateValue = Tensor | { shape: readonly number[]; data: ArrayLike<number> | SafeArray };

/** Raised by loadStateDict when keys or shapes do not match; lists every problem. */
export class StateDictError extends Error {
  constructor(
    message: string,
    /** Keys the module has and the state dict lacks. */
    readonly missing: string[],
    /** Keys the state dict has and the module lacks. */
    readonly unexpected: string[],
    /** Keys whose shapes differ, as 'key: expected [..], got [..]'. */
    readonly misShaped: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

/** Keys PyTorch writes that this library does not track; ignored when loading. */
const IGNORED_KEYS = /(^|\.)num_batches_tracked$/;

/** Base class of layers and models (PyTorch's nn.Module). Subclasses implement forward(). */
export abstract class Module {
  /** Training mode (batch statistics in BatchNorm) versus eval mode; set with train()/eval(). */
  training = true;
  private readonly _buffers = new Map<string, Tensor>();

  /**
   * Every forward() runs as a tidy() scope: tensors it creates and does not return are
   * disposed when it returns (what backward needs stays with the graph), so activations are
   * freed as backward goes instead of when the training step ends. keep() a tensor to hold on
   * to it.
   */
  constructor() {
    const forward = this.forward;
    Object.defineProperty(this, 'forward', {
      value: (...args: unknown[]) => tidy(() => (forward as (...a: unknown[]) => Tensor).apply(this, args)),
      enumerable: false,
      writable: true,
      configurable: true,
    });
  }

  /** Computes the module's output. */
  abstract forward(input: Tensor): Tensor;

  /** Registers a tensor that is state but not trained (e.g. BatchNorm's running_mean); it is in the state dict. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this._buffers.set(name, t);
    return t;
  }

  /** Direct children, by property name. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Direct children. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and all below it, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Own parameters (not the children's), by property name. */
  private ownParameters(): [string, Parameter][] {
    return Object.entries(this).filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  /** All parameters with dotted names (e.g. 'layer2.0.shortcut.0.weight'); shared ones once. */
  namedParameters(): [string, Parameter][] {
    const seen = new Set<Parameter>();
    const out: [string, Parameter][] = [];
    for (const [mp, m] of this.namedModules()) {
      for (const [n, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([mp ? `${mp}.${n}` : n, p]);
      }
    }
    return out;
  }

  /** All parameters. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** All buffers with dotted names. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mp, m] of this.namedModules()) for (const [n, b] of m._buffers) out.push([mp ? `${mp}.${n}` : n, b]);
    return out;
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  /** Sets training mode here and below; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets eval mode here and below; returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Releases every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Parameters and buffers by PyTorch name, in PyTorch's order (each module's parameters,
   * then its buffers, then its children). The tensors are the live ones, not copies.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string) => {
      for (const [n, p] of m.ownParameters()) out.set(prefix + n, p);
      for (const [n, b] of m._buffers) out.set(prefix + n, b);
      for (const [n, c] of m.namedChildren()) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values into the parameters and buffers (in place; no graph is recorded). With
   * `strict` (default) every key must match in name and shape, else a StateDictError lists the
   * missing, unexpected and mis-shaped keys and nothing is changed. `num_batches_tracked`
   * entries (PyTorch's) are ignored. With `strict: false` only matching keys are loaded.
   * Returns the missing and unexpected keys.
   */
  loadStateDict(state: Map<string, StateValue> | Record<string, StateValue>, options: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const strict = options.strict ?? true;
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k) && !IGNORED_KEYS.test(k));
    const misShaped: string[] = [];
    for (const [k, t] of own) {
      const v = entries.get(k);
      if (!v) continue;
      if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i])) {
        misShaped.push(`${k}: expected [${t.shape.join(', ')}], got [${v.shape.join(', ')}]`);
      }
    }
    if (misShaped.length || (strict && (missing.length || unexpected.length))) {
      const parts = [];
      if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
      if (misShaped.length) parts.push(`mis-shaped keys (${misShaped.length}): ${misShaped.join('; ')}`);
      throw new StateDictError(
        `loadStateDict: the state dict does not match ${this.constructor.name}:\n  ${parts.join('\n  ')}\n` +
          'Check that the checkpoint is for this model (or pass {strict: false} to load the matching keys only).',
        missing,
        unexpected,
        misShaped,
      );
    }
    for (const [k, t] of own) {
      const v = entries.get(k);
      if (!v) continue;
      if (v instanceof Tensor) copyInto(t, v);
      else {
        const d = v.data;
        if (d instanceof BigInt64Array) throw new Error(`loadStateDict: '${k}' holds 64-bit integers; convert it to float32.`);
        writeValues(t, d as ArrayLike<number>);
      }
    }
    return { missing, unexpected };
  }

  /** Writes the state dict to a safetensors file (float32; atomically). Reads the values back from the GPU. */
  async save(path: string, metadata?: Record<string, string>): Promise<void> {
    const tensors = new Map<string, { shape: readonly number[]; data: SafeArray }>();
    for (const [k, t] of this.stateDict()) tensors.set(k, { shape: t.shape, data: Float32Array.from(await t.toArray()) });
    writeSafetensors(path, tensors, metadata);
  }

  /** Loads a safetensors file written by save() or by PyTorch (safetensors.torch.save_file of a state_dict). */
  load(path: string, options: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const file = readSafetensors(path);
    return this.loadStateDict(file.tensors as Map<string, StateValue>, options);
  }

  /** Releases every parameter, gradient and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.zeroGrad();
      p.dispose();
    }
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}

function copyInto(dst: Tensor, src: Tensor): void {
  const s = src.raw;
  const d = dst.raw;
  if (d instanceof DeviceTensor && s instanceof DeviceTensor) {
    // A GPU copy recorded in order with the kernels; no readback.
    if (s.size > 0) runtime().dispatcher.copy(s.buffer, 0, d.buffer, 0, s.size * 4);
  } else if (!(d instanceof DeviceTensor) && !(s instanceof DeviceTensor)) {
    d.data.set(s.data);
  } else {
    throw new Error('loadStateDict: cannot copy between the gpu and cpu64 backends synchronously; load from values (toArray) instead.');
  }
}
