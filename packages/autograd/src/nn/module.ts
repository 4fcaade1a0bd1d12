// Modules: PyTorch's nn.Module. Parameters and child modules are found from the instance's own
// properties, in the order they were assigned (so `this.conv1 = new Conv2d(...)` names
// `conv1.weight` as in PyTorch); buffers are registered by name. State dicts use PyTorch's
// dotted names and load in place.

import {
  parseSafetensors,
  serializeSafetensors,
  runtime,
  sizeOf,
  Tensor as DeviceTensor,
  type SafeArray,
  type SafeTensorsFile,
} from '@wgtorch/tensor';
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
    return new Parameter(
      backendOf(backend).fromArray(new Float32Array(sizeOf(shape, 'Parameter.full')).fill(value), shape) as
        DeviceTensor | F64,
    );
  }
}

/** A value a state dict entry can hold: a tensor, or values with a shape (e.g. from a safetensors file). */
export type StateValue = Tensor | { shape: readonly number[]; data: ArrayLike<number> | SafeArray };

/** Raised by loadStateDict when keys, shapes or values do not match; lists every problem. */
export class StateDictError extends Error {
  constructor(
    message: string,
    /** Keys the module has and the state dict lacks. */
    readonly missing: string[],
    /** Keys the state dict has and the module lacks. */
    readonly unexpected: string[],
    /** Keys whose shapes differ, as 'key: expected [..], got [..]'. */
    readonly misShaped: string[],
    /** Keys whose values cannot be loaded (wrong count, 64-bit integers, disposed, other backend), as 'key: why'. */
    readonly invalid: string[] = [],
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
    const out: [string, Module][] = [];
    for (const [name, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([name, v]);
      else refuseHiddenContainer(this, name, v);
    }
    return out;
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
    const out: [string, Parameter][] = [];
    for (const [name, v] of Object.entries(this)) {
      if (v instanceof Parameter) out.push([name, v]);
      else refuseHiddenContainer(this, name, v);
    }
    return out;
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

  /**
   * Resets every parameter's gradient. With `setToNone` (the default, as PyTorch 2's
   * zero_grad) the gradients are released: memory is freed and the next backward() writes
   * fresh ones instead of adding to zeros. `setToNone: false` keeps the gradients, zeroed in
   * place (no readback).
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrads(this.parameters(), options.setToNone ?? true);
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
   * Copies values into the parameters and buffers (in place; no graph is recorded). All or
   * nothing: every entry is checked (name, shape, value count and type, backend) before any is
   * written, and on a problem a StateDictError lists the missing, unexpected, mis-shaped and
   * invalid keys and nothing is changed. `num_batches_tracked` entries (PyTorch's) are ignored.
   * With `strict: false` missing and unexpected keys are allowed and only matching keys are
   * loaded. Returns the missing and unexpected keys.
   */
  loadStateDict(
    state: Map<string, StateValue> | Record<string, StateValue>,
    options: { strict?: boolean } = {},
  ): { missing: string[]; unexpected: string[] } {
    const strict = options.strict ?? true;
    const entries: Map<string, StateValue | null | undefined> =
      state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k) && !IGNORED_KEYS.test(k));
    const misShaped: string[] = [];
    const invalid: string[] = [];
    for (const [k, t] of own) {
      if (!entries.has(k)) continue;
      const v = entries.get(k);
      const why = invalidValue(v, t);
      if (why) invalid.push(`${k}: ${why}`);
      else if (v!.shape.length !== t.shape.length || v!.shape.some((d, i) => d !== t.shape[i])) {
        misShaped.push(`${k}: expected [${t.shape.join(', ')}], got [${v!.shape.join(', ')}]`);
      }
    }
    if (misShaped.length || invalid.length || (strict && (missing.length || unexpected.length))) {
      const parts = [];
      if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
      if (misShaped.length) parts.push(`mis-shaped keys (${misShaped.length}): ${misShaped.join('; ')}`);
      if (invalid.length) parts.push(`invalid values (${invalid.length}): ${invalid.join('; ')}`);
      throw new StateDictError(
        `loadStateDict: the state dict does not match ${this.constructor.name} (nothing was loaded):\n` +
          `  ${parts.join('\n  ')}\n` +
          'Check that the checkpoint is for this model (or pass {strict: false} to load the matching keys only).',
        missing,
        unexpected,
        misShaped,
        invalid,
      );
    }
    for (const [k, t] of own) {
      const v = entries.get(k);
      if (!v) continue;
      if (v instanceof Tensor) copyInto(t, v);
      else writeValues(t, v.data as ArrayLike<number>);
    }
    return { missing, unexpected };
  }

  /** The state dict as safetensors bytes (float32, with the checksum). Reads the values back from the GPU. */
  async saveBytes(metadata?: Record<string, string>): Promise<Uint8Array> {
    const tensors = new Map<string, { shape: readonly number[]; data: SafeArray }>();
    for (const [k, t] of this.stateDict())
      tensors.set(k, { shape: t.shape, data: Float32Array.from(await t.toArray()) });
    return serializeSafetensors(tensors, metadata);
  }

  /**
   * Loads safetensors bytes (from saveBytes(), a fetch, or PyTorch's safetensors.torch.save_file
   * of a state_dict), all or nothing. `source` names the bytes in errors.
   */
  loadBytes(
    bytes: Uint8Array,
    options: { strict?: boolean; source?: string } = {},
  ): { missing: string[]; unexpected: string[] } {
    const source = options.source ?? 'safetensors bytes';
    return this.loadSafetensors(parseSafetensors(bytes, source), { ...options, source });
  }

  /**
   * Fetches safetensors weights from a URL (in a browser, relative to the page) and loads them
   * as loadBytes() does (for headers or credentials, fetch yourself and call loadBytes). Errors
   * name the URL. Files by path, on Node: `load` of `@wgtorch/autograd/node`.
   */
  async loadUrl(
    url: string | URL,
    options: { strict?: boolean } = {},
  ): Promise<{ missing: string[]; unexpected: string[] }> {
    const source = String(url);
    let bytes: Uint8Array;
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (e) {
      throw new Error(`${source}: could not fetch the weights for ${this.constructor.name}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return this.loadBytes(bytes, { strict: options.strict, source });
  }

  /**
   * loadStateDict from a parsed safetensors file (parseSafetensors, or readSafetensors of
   * `@wgtorch/tensor/node`), its errors prefixed with `source` (the file's name).
   */
  loadSafetensors(
    file: SafeTensorsFile,
    options: { strict?: boolean; source?: string } = {},
  ): { missing: string[]; unexpected: string[] } {
    const source = options.source ?? 'safetensors file';
    try {
      return this.loadStateDict(file.tensors as Map<string, StateValue>, options);
    } catch (e) {
      if (e instanceof StateDictError)
        throw new StateDictError(`${source}: ${e.message}`, e.missing, e.unexpected, e.misShaped, e.invalid);
      throw new Error(`${source}: ${(e as Error).message}`, { cause: e });
    }
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

/** Resets gradients: released (setToNone) or zeroed in place. Shared by Module.zeroGrad and the optimizers. */
export function zeroGrads(params: Iterable<Tensor>, setToNone: boolean): void {
  for (const p of params) {
    if (setToNone || !p.grad || p.grad.isDisposed) {
      p.zeroGrad();
      continue;
    }
    const r = p.grad.raw;
    if (r instanceof DeviceTensor) {
      if (r.size > 0) runtime().dispatcher.clear(r.buffer, r.byteOffset, r.size * 4);
    } else r.data.fill(0);
  }
}

/** Whether `v` holds a Module or Parameter at its top level or one level down (arrays, plain objects, Maps). */
function holdsModules(v: unknown, depth = 0): boolean {
  if (v instanceof Module || v instanceof Parameter) return depth > 0;
  if (depth > 1 || v === null || typeof v !== 'object') return false;
  const values = Array.isArray(v)
    ? v
    : v instanceof Map
      ? [...v.values()]
      : Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null
        ? Object.values(v)
        : [];
  return values.some((x) => holdsModules(x, depth + 1));
}

/**
 * Modules or Parameters kept in a plain array, object or Map would drop out of parameters(),
 * the state dict and the optimizer without a word (PyTorch's trap too): refuse them by name.
 */
function refuseHiddenContainer(owner: Module, name: string, v: unknown): void {
  if (!holdsModules(v)) return;
  const kind = Array.isArray(v) ? 'a plain array' : v instanceof Map ? 'a Map' : 'a plain object';
  const fix = Array.isArray(v) ? `this.${name} = new ModuleList([...])` : `this.${name} = new ModuleDict({ ... })`;
  throw new Error(
    `${owner.constructor.name}.${name} holds modules or parameters in ${kind}, where parameters(), ` +
      `stateDict() and the optimizers cannot see them. Use ${fix} (from nn layers), or give each ` +
      'Parameter its own field.',
  );
}

/** The fix when a tensor's backend differs from the module's, for the errors below. */
const LOAD_FROM_VALUES = 'load from values (toArray) instead';

/** Why `v` cannot be loaded into `t` (apart from its shape), or undefined if it can. */
function invalidValue(v: StateValue | null | undefined, t: Tensor): string | undefined {
  if (v === null || typeof v !== 'object') return `${v} is not a tensor or {shape, data}`;
  if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    return `shape ${JSON.stringify(v.shape)} is not a list of non-negative integers`;
  if (v instanceof Tensor) {
    if (v.isDisposed) return 'the tensor was disposed';
    if (v.raw instanceof DeviceTensor !== t.raw instanceof DeviceTensor)
      return `the tensor is on the ${v.backend} backend, the module on ${t.backend}; ${LOAD_FROM_VALUES}`;
    return undefined;
  }
  const d = v.data;
  if (d instanceof BigInt64Array) return 'holds 64-bit integers; convert it to float32';
  if (d === null || typeof d !== 'object' || typeof d.length !== 'number') return 'has no data array';
  const n = v.shape.reduce((a, x) => a * x, 1);
  if (d.length !== n) return `has ${d.length} values for shape [${v.shape.join(', ')}] (${n})`;
  return undefined;
}

function copyInto(dst: Tensor, src: Tensor): void {
  const s = src.raw;
  const d = dst.raw;
  if (d instanceof DeviceTensor && s instanceof DeviceTensor) {
    // A GPU copy recorded in order with the kernels; no readback.
    if (s.size > 0) runtime().dispatcher.copy(s.buffer, s.byteOffset, d.buffer, d.byteOffset, s.size * 4);
  } else if (!(d instanceof DeviceTensor) && !(s instanceof DeviceTensor)) {
    d.data.set(s.data);
  } else {
    throw new Error(
      `loadStateDict: cannot copy between the gpu and cpu64 backends synchronously; ${LOAD_FROM_VALUES}.`,
    );
  }
}
