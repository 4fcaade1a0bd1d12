// The layers (PyTorch's nn.* in TypeScript). Property names are PyTorch's (weight, bias,
// running_mean, ...) so state dicts match PyTorch's keys.

import type { Rng } from '@wgtorch/tensor';
import { backendOf, type BackendName } from '../backend.js';
import { Tensor } from '../tensor.js';
import type { Tensor as DeviceTensor } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import * as F from '../functional.js';
import { Module, Parameter } from './module.js';
import { getDefaultRng, kaimingUniform, uniform, fans } from './init.js';

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
}

/** 2-D convolution over [N, C, H, W] with square kernels (PyTorch's nn.Conv2d, no groups/dilation). */
export class Conv2d extends Module {
  /** [out, in, k, k] */
  weight: Parameter;
  /** [out], or null with `bias: false`. */
  bias: Parameter | null;
  readonly stride: number;
  readonly padding: number;

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
    this.weight = Parameter.full([outChannels, inChannels, kernelSize, kernelSize], 0, backend);
    this.bias = options.bias === false ? null : Parameter.full([outChannels], 0, backend);
    defaultInit(this.weight, this.bias, options.rng ?? getDefaultRng());
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
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
