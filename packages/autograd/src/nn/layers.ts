// The layers (PyTorch's nn.* in TypeScript). Property names are PyTorch's (weight, bias,
// running_mean, ...) so state dicts match PyTorch's keys.

import type { Rng } from '@wgtorch/tensor';
import { backendOf, type BackendName } from '../backend.js';
import { Tensor } from '../tensor.js';
import type { Tensor as DeviceTensor } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import * as F from '../functional.js';
import { Module, Parameter } from './module.js';
import { getDefaultRng, kaimingUniform, uniform, fans, writeValues } from './init.js';

/** Where a layer's parameters are created and how they are drawn. */
export interface LayerOptions {
  /** Generator for the initial values (default: the one manualSeed() seeds). */
  rng?: Rng;
  /** Backend of the parameters (default 'gpu'). */
  backend?: BackendName;
}

/** PyTorch's default init of conv and linear layers: kaiming_uniform(a = sqrt 5) weights, U(+-1/sqrt(fan_in)) bias. */
function defaultInit(weight: Parameter, bias: Parameter | null, rng: Rng): void {
  kaimingUniform(weight, { a: Math.sqrt(5), nonlinearity: 'leaky_relu', rng });
  if (bias) {
    const b = 1 / Math.sqrt(fans(weight.shape).fanIn);
    uniform(bias, -b, b, rng);
  }
}

/** Options of Conv2d. */
export interface Conv2dOptions extends LayerOptions {
  /** Stride on both axes (default 1). */
  stride?: number;
  /** Zero padding on each side (default 0). */
  padding?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Channel groups: each output channel sees inChannels / groups inputs (default 1; inChannels for depthwise). */
  groups?: number;
}

/** 2-D convolution over [N, C, H, W] with square kernels (PyTorch's nn.Conv2d). */
export class Conv2d extends Module {
  /** [out, in, k, k] */
  weight: Parameter;
  /** [out], or null with `bias: false`. */
  bias: Parameter | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    super();
    const backend = options.backend ?? 'gpu';
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.groups = options.groups ?? 1;
    const g = this.groups;
    if (!Number.isInteger(g) || g < 1 || inChannels % g !== 0 || outChannels % g !== 0) {
      throw new Error(
        `Conv2d: groups ${g} must be a positive integer dividing inChannels ${inChannels} and ` +
          `outChannels ${outChannels} (depthwise: groups = inChannels).`,
      );
    }
    this.weight = Parameter.full([outChannels, inChannels / g, kernelSize, kernelSize], 0, backend);
    this.bias = options.bias === false ? null : Parameter.full([outChannels], 0, backend);
    defaultInit(this.weight, this.bias, options.rng ?? getDefaultRng());
  }

  forward(x: Tensor): Tensor {
    const o = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    return F.conv2d(x, this.weight, this.bias, o);
  }
}

/** y = x W^T + b over [N, in] (PyTorch's nn.Linear). */
export class Linear extends Module {
  /** [out, in] */
  weight: Parameter;
  /** [out], or null with `bias: false`. */
  bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    const backend = options.backend ?? 'gpu';
    this.weight = Parameter.full([outFeatures, inFeatures], 0, backend);
    this.bias = options.bias === false ? null : Parameter.full([outFeatures], 0, backend);
    defaultInit(this.weight, this.bias, options.rng ?? getDefaultRng());
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** Options of BatchNorm2d. */
export interface BatchNorm2dOptions {
  /** Weight of each batch's statistics in the running averages (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  backend?: BackendName;
}

/**
 * Batch normalization over [N, C, H, W] (PyTorch's nn.BatchNorm2d): batch statistics in
 * training (running averages updated in place, unbiased variance), running ones in eval.
 * State: weight, bias, running_mean, running_var (no num_batches_tracked).
 */
export class BatchNorm2d extends Module {
  /** gamma [C], initialized to 1. */
  weight: Parameter;
  /** beta [C], initialized to 0. */
  bias: Parameter;
  /** Buffer [C], initialized to 0. */
  readonly runningMean: Tensor;
  /** Buffer [C], initialized to 1. */
  readonly runningVar: Tensor;
  readonly momentum: number;
  readonly eps: number;

  constructor(
    readonly numFeatures: number,
    options: BatchNorm2dOptions = {},
  ) {
    super();
    const backend = options.backend ?? 'gpu';
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    this.weight = Parameter.full([numFeatures], 1, backend);
    this.bias = Parameter.full([numFeatures], 0, backend);
    this.runningMean = this.registerBuffer('running_mean', buffer(numFeatures, 0, backend));
    this.runningVar = this.registerBuffer('running_var', buffer(numFeatures, 1, backend));
  }

  forward(x: Tensor): Tensor {
    return F.batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  /** relu(forward(x)), fused into one kernel in training mode. */
  forwardRelu(x: Tensor): Tensor {
    return F.batchNormRelu2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  /** relu(forward(x) + residual) (ResNet's block end), fused into one kernel in training mode. */
  forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    return F.batchNormAddRelu2d(x, residual, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

function buffer(n: number, value: number, backend: BackendName): Tensor {
  return new Tensor(backendOf(backend).fromArray(new Float32Array(n).fill(value), [n]) as DeviceTensor | F64, {
    untracked: true,
  });
}

/** max(x, 0) (PyTorch's nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

/** Returns its input (PyTorch's nn.Identity). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return F.reshape(x, x.shape);
  }
}

/** Flattens dims startDim..endDim (default 1..-1, as PyTorch's nn.Flatten). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.flatten(x, this.startDim, this.endDim);
  }
}

/** Adaptive average pooling to a fixed output size (PyTorch's nn.AdaptiveAvgPool2d; 1 = global). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | readonly [number, number]) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Average pooling with a square window (PyTorch's nn.AvgPool2d). */
export class AvgPool2d extends Module {
  readonly stride: number;
  constructor(
    readonly kernelSize: number,
    stride?: number,
    readonly padding = 0,
  ) {
    super();
    this.stride = stride ?? kernelSize;
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, { kernel: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** Applies modules in order; children are named '0', '1', ... (PyTorch's nn.Sequential). */
export class Sequential extends Module {
  [index: number]: Module;
  readonly length: number;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => (this[i] = m));
    this.length = modules.length;
  }

  forward(x: Tensor): Tensor {
    // forward() is a tidy scope (see Module), so the intermediate outputs are released on return.
    let y = x;
    for (let i = 0; i < this.length; i++) y = this[i].forward(y);
    return y;
  }
}

/** Max pooling with a square window (PyTorch's nn.MaxPool2d; stride defaults to the kernel size). */
export class MaxPool2d extends Module {
  readonly stride: number;
  /** Spacing between window taps (default 1). */
  readonly dilation: number;
  /** Round the output size up rather than down (default false). */
  readonly ceilMode: boolean;
  constructor(
    readonly kernelSize: number,
    stride?: number,
    readonly padding = 0,
    options: { dilation?: number; ceilMode?: boolean } = {},
  ) {
    super();
    this.stride = stride ?? kernelSize;
    this.dilation = options.dilation ?? 1;
    this.ceilMode = options.ceilMode ?? false;
  }

  forward(x: Tensor): Tensor {
    const { kernelSize: kernel, stride, padding, dilation, ceilMode } = this;
    return F.maxPool2d(x, { kernel, stride, padding, dilation, ceilMode });
  }
}

/** Options of LayerNorm. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-element weight (and bias) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** Learn the bias too (default true; only with elementwiseAffine). */
  bias?: boolean;
  backend?: BackendName;
}

/** Normalizes over the trailing dims `normalizedShape` (PyTorch's nn.LayerNorm): weight 1, bias 0 at start. */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  /** normalizedShape, or null without elementwiseAffine. */
  weight: Parameter | null;
  /** normalizedShape, or null without elementwiseAffine or with `bias: false`. */
  bias: Parameter | null;
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    const backend = options.backend ?? 'gpu';
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? Parameter.full(this.normalizedShape, 1, backend) : null;
    this.bias = affine && options.bias !== false ? Parameter.full(this.normalizedShape, 0, backend) : null;
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/** Zeroes elements with probability p and scales the rest by 1 / (1 - p) in training; identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability p must be in [0, 1], got ${p}.`);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** Options of Embedding. */
export interface EmbeddingOptions extends LayerOptions {
  /** A row that stays zero and gets no gradient (negative counts from the end), as PyTorch's padding_idx. */
  paddingIdx?: number;
}

/** A lookup table of numEmbeddings rows of embeddingDim (PyTorch's nn.Embedding; weight N(0, 1) at start). */
export class Embedding extends Module {
  /** [numEmbeddings, embeddingDim] */
  weight: Parameter;
  /** The padding row (non-negative), or undefined. */
  readonly paddingIdx: number | undefined;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    let pad = options.paddingIdx;
    if (pad !== undefined) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings)
        throw new Error(`Embedding: paddingIdx ${pad} must be an integer in [-${numEmbeddings}, ${numEmbeddings}).`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = Parameter.full([numEmbeddings, embeddingDim], 0, options.backend ?? 'gpu');
    const values = (options.rng ?? getDefaultRng()).normalArray(numEmbeddings * embeddingDim, 0, 1);
    if (pad !== undefined) values.fill(0, pad * embeddingDim, (pad + 1) * embeddingDim);
    writeValues(this.weight, values);
  }

  /** Rows of the table for int32 indices of any shape (an int32 Tensor, Int32Array or plain array). */
  forward(indices: Tensor | Int32Array | readonly number[]): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx);
  }
}

/** x * Phi(x) (PyTorch's nn.GELU; approximate 'tanh' for the tanh form). */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(approximate)}'.`);
  }

  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
}

/** x * sigmoid(x) (PyTorch's nn.SiLU). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

/**
 * Holds modules in a list, registered as children '0', '1', ... so that parameters(), the
 * state dict (`layers.0.weight`) and train()/eval() reach them (PyTorch's nn.ModuleList).
 * It has no forward(): iterate over it in the owner's forward.
 */
export class ModuleList extends Module implements Iterable<Module> {
  [index: number]: Module;
  private count = 0;

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Number of modules. */
  get length(): number {
    return this.count;
  }

  /** Adds a module at the end; returns this. */
  append(module: Module): this {
    if (!(module instanceof Module)) throw new Error(`ModuleList.append: expected a Module, got ${describe(module)}.`);
    this[this.count++] = module;
    return this;
  }

  /** Adds modules at the end; returns this. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** The module at `index` (negative counts from the end). */
  get(index: number): Module {
    const i = index < 0 ? index + this.count : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new Error(`ModuleList.get: index ${index} is out of range for ${this.count} modules.`);
    return this[i];
  }

  *[Symbol.iterator](): Iterator<Module> {
    for (let i = 0; i < this.count; i++) yield this[i];
  }

  forward(): Tensor {
    throw new Error('ModuleList has no forward(): iterate over it (for (const m of list) x = m.forward(x)).');
  }
}

/**
 * Holds modules by name, in insertion order, registered as children under their keys (so
 * `blocks.attn.weight` in the state dict), as PyTorch's nn.ModuleDict. No forward().
 */
export class ModuleDict extends Module implements Iterable<[string, Module]> {
  declare private readonly entries_: Map<string, Module>;

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    // Not enumerable: the children are reported by namedChildren(), in insertion order.
    Object.defineProperty(this, 'entries_', { value: new Map(), enumerable: false });
    const pairs = Symbol.iterator in modules ? modules : Object.entries(modules);
    for (const [k, m] of pairs as Iterable<[string, Module]>) this.set(k, m);
  }

  /** Adds or replaces the module under `key`; returns this. */
  set(key: string, module: Module): this {
    if (typeof key !== 'string' || key === '' || key.includes('.'))
      throw new Error(`ModuleDict.set: key ${JSON.stringify(key)} must be a non-empty string without '.'.`);
    if (!(module instanceof Module))
      throw new Error(`ModuleDict.set: expected a Module under '${key}', got ${describe(module)}.`);
    this.entries_.set(key, module);
    return this;
  }

  /** The module under `key`. */
  get(key: string): Module {
    const m = this.entries_.get(key);
    if (!m) throw new Error(`ModuleDict.get: no module '${key}' (keys: ${[...this.entries_.keys()].join(', ')}).`);
    return m;
  }

  has(key: string): boolean {
    return this.entries_.has(key);
  }

  /** Removes and returns the module under `key`. */
  pop(key: string): Module {
    const m = this.get(key);
    this.entries_.delete(key);
    return m;
  }

  keys(): string[] {
    return [...this.entries_.keys()];
  }

  values(): Module[] {
    return [...this.entries_.values()];
  }

  get size(): number {
    return this.entries_.size;
  }

  override namedChildren(): [string, Module][] {
    return [...super.namedChildren(), ...this.entries_];
  }

  [Symbol.iterator](): Iterator<[string, Module]> {
    return this.entries_[Symbol.iterator]();
  }

  forward(): Tensor {
    throw new Error("ModuleDict has no forward(): call its modules (dict.get('name').forward(x)).");
  }
}

function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}
