// Parameter initialization, PyTorch's torch.nn.init in camelCase. Values are drawn on the CPU
// from the global generator (or a given Rng) and written once, so manualSeed(n) before building a
// model reproduces it exactly.

import { Rng, Tensor as DeviceTensor, sizeOf } from '@wgtorch/tensor';
import type { Tensor } from '../tensor.js';

import { getDefaultRng } from '../random.js';
export { manualSeed, getDefaultRng } from '../random.js';

/** Overwrites a tensor's values from the CPU (no graph is recorded). */
export function writeValues(t: Tensor, values: ArrayLike<number>): void {
  if (values.length !== t.size)
    throw new Error(`writeValues: ${values.length} values for tensor [${t.shape.join(', ')}] (${t.size}).`);
  const raw = t.raw;
  if (raw instanceof DeviceTensor) raw.write(values instanceof Float32Array ? values : Float32Array.from(values));
  else raw.data.set(values);
}

/** fan_in and fan_out as PyTorch computes them (dims 0 and 1 times the receptive field). */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in/out need at least 2 dims, got [${shape.join(', ')}].`);
  const receptive = sizeOf(shape.slice(2), 'init');
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Options of the Kaiming initializers. */
export interface KaimingOptions {
  /** 'fan_in' (default) preserves the forward variance, 'fan_out' the backward. */
  mode?: 'fan_in' | 'fan_out';
  /** 'relu' (gain sqrt 2, default) or 'leaky_relu' with slope `a` (gain sqrt(2 / (1 + a^2))), or 'linear' (gain 1). */
  nonlinearity?: 'relu' | 'leaky_relu' | 'linear';
  /** Negative slope for 'leaky_relu' (default 0). */
  a?: number;
  rng?: Rng;
}

function gainOf(o: KaimingOptions): number {
  const nl = o.nonlinearity ?? 'leaky_relu';
  if (nl === 'linear') return 1;
  if (nl === 'relu') return Math.SQRT2;
  const a = o.a ?? 0;
  return Math.sqrt(2 / (1 + a * a));
}

function fanOf(t: Tensor, o: KaimingOptions): number {
  const f = fans(t.shape);
  return (o.mode ?? 'fan_in') === 'fan_in' ? f.fanIn : f.fanOut;
}

/** Fills with N(0, std^2), std = gain / sqrt(fan) (torch.nn.init.kaiming_normal_; default nonlinearity 'relu' here). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  const o = { nonlinearity: 'relu' as const, ...options };
  return normal(t, 0, gainOf(o) / Math.sqrt(fanOf(t, o)), o.rng);
}

/** Fills with U(-b, b), b = gain * sqrt(3 / fan) (torch.nn.init.kaiming_uniform_; PyTorch's layers use a = sqrt 5). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = gainOf(options) * Math.sqrt(3 / fanOf(t, options));
  return uniform(t, -bound, bound, options.rng);
}

/** Fills with N(mean, std^2). */
export function normal(t: Tensor, mean = 0, std = 1, rng: Rng = getDefaultRng()): Tensor {
  writeValues(t, rng.normalArray(t.size, mean, std));
  return t;
}

/** Fills with U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1, rng: Rng = getDefaultRng()): Tensor {
  writeValues(t, rng.uniformArray(t.size, low, high));
  return t;
}

/** Fills with a constant. */
export function constant(t: Tensor, value: number): Tensor {
  writeValues(t, new Float32Array(t.size).fill(value));
  return t;
}
