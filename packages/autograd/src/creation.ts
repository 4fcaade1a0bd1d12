// Tensor creation beyond the basic factories of tensor.ts, with PyTorch's semantics: ranges
// (arange, linspace), the identity (eye), the *Like factories and random integers (randint).
// Values are computed on the CPU and uploaded once, as full() does; random ones come from the
// global generator (random.ts) unless a seed or rng is given.

import { sizeOf } from '@wgtorch/tensor';
import { fromValues, full, rand, randn, rngOf, Tensor, type RandomOptions, type TensorOptions } from './tensor.js';

export type { Dtype, TensorData, RandomOptions } from './tensor.js';

/** `options` over `defaults`, where an option given as undefined keeps the default. */
function withDefaults<O extends TensorOptions>(defaults: TensorOptions, options: O): O {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as O;
}

function checkFinite(op: string, names: string[], values: number[]): void {
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`${op}: ${names[i]} must be a finite number, got ${String(v)}.`);
  });
}

/**
 * Values from start (inclusive) to end (exclusive) by step, as torch.arange: `arange(5)` is
 * [0, 1, 2, 3, 4], `arange(1, 2, 0.25)` is [1, 1.25, 1.5, 1.75]. The length is
 * ceil((end - start) / step). The dtype is int32 when every argument is an integer (where
 * PyTorch gives int64), else float32; `dtype` in the options overrides it.
 */
export function arange(end: number, options?: TensorOptions): Tensor;
export function arange(start: number, end: number, options?: TensorOptions): Tensor;
export function arange(start: number, end: number, step: number, options?: TensorOptions): Tensor;
export function arange(...args: (number | TensorOptions | undefined)[]): Tensor {
  const options = (typeof args[args.length - 1] === 'object' ? args.pop() : undefined) as TensorOptions | undefined;
  while (args.length && args[args.length - 1] === undefined) args.pop();
  const nums = args as number[];
  if (nums.length < 1 || nums.length > 3)
    throw new Error(`arange: takes (end), (start, end) or (start, end, step), got ${nums.length} numbers.`);
  const [start, end, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0], nums[1], nums[2] ?? 1];
  checkFinite('arange', ['start', 'end', 'step'], [start, end, step]);
  if (step === 0) throw new Error('arange: step must be nonzero.');
  if ((step > 0 && end < start) || (step < 0 && end > start)) {
    throw new Error(
      `arange: the range from ${start} to ${end} runs against step ${step}; ` +
        'use a negative step to count down (or swap start and end).',
    );
  }
  const n = Math.ceil((end - start) / step);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  return fromValues('arange', values, [n], withDefaults({ dtype: integral ? 'int32' : 'float32' }, options ?? {}));
}

/**
 * `steps` values evenly spaced from start to end, both included (torch.linspace; float32).
 * As PyTorch, the first half counts up from start and the second half down from end, so both
 * ends are exact.
 */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  checkFinite('linspace', ['start', 'end'], [start, end]);
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`linspace: steps must be a non-negative integer, got ${steps}.`);
  const values = new Float64Array(steps);
  if (steps === 1) values[0] = start;
  if (steps > 1) {
    const step = (end - start) / (steps - 1);
    const half = Math.floor(steps / 2);
    for (let i = 0; i < steps; i++) values[i] = i < half ? start + step * i : end - step * (steps - i - 1);
  }
  return fromValues('linspace', values, [steps], options);
}

/** The n x m matrix (m defaults to n) with ones on the diagonal and zeros elsewhere (torch.eye). */
export function eye(n: number, m?: number | TensorOptions, options: TensorOptions = {}): Tensor {
  if (typeof m === 'object') return eye(n, undefined, m);
  const cols = m ?? n;
  for (const [name, v] of [
    ['n', n],
    ['m', cols],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`eye: ${name} must be a non-negative integer, got ${v}.`);
  }
  const values = new Float64Array(n * cols);
  for (let i = 0; i < Math.min(n, cols); i++) values[i * cols + i] = 1;
  return fromValues('eye', values, [n, cols], options);
}

/** x's backend and dtype, overridden by `options` (the *Like factories: gradients are never required by default). */
function likeOptions<O extends TensorOptions>(x: Tensor, options: O): O {
  return withDefaults({ backend: x.backend, dtype: x.dtype }, options);
}

/** A tensor of `value` with x's shape, backend and dtype (torch.full_like). */
export function fullLike(x: Tensor, value: number, options: TensorOptions = {}): Tensor {
  return full(x.shape, value, likeOptions(x, options));
}

/** Zeros with x's shape, backend and dtype (torch.zeros_like). */
export function zerosLike(x: Tensor, options: TensorOptions = {}): Tensor {
  return fullLike(x, 0, options);
}

/** Ones with x's shape, backend and dtype (torch.ones_like). */
export function onesLike(x: Tensor, options: TensorOptions = {}): Tensor {
  return fullLike(x, 1, options);
}

/**
 * Normal samples with x's shape, backend and dtype, from the global generator unless seeded
 * (torch.randn_like; an int32 x needs `dtype: 'float32'`, as PyTorch refuses it too).
 */
export function randnLike(x: Tensor, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  return randn(x.shape, likeOptions(x, options));
}

/** Uniform samples in [0, 1) with x's shape, backend and dtype (torch.rand_like; float32 only). */
export function randLike(x: Tensor, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  return rand(x.shape, likeOptions(x, options));
}

/**
 * Uniform random integers in [low, high) as an int32 tensor (torch.randint): `randint(10, [3])`
 * or `randint(-5, 5, [2, 2])`. From the global generator unless `seed` or `rng` is given;
 * `dtype: 'float32'` gives the same integers as floats.
 */
export function randint(high: number, shape: readonly number[], options?: RandomOptions): Tensor;
export function randint(low: number, high: number, shape: readonly number[], options?: RandomOptions): Tensor;
export function randint(
  a: number,
  b: number | readonly number[],
  c?: readonly number[] | RandomOptions,
  d: RandomOptions = {},
): Tensor {
  const [low, high, shape, options] =
    typeof b === 'number' ? [a, b, c as readonly number[], d] : [0, a, b, (c as RandomOptions | undefined) ?? {}];
  if (!Array.isArray(shape)) throw new Error('randint: pass the shape as an array, e.g. randint(0, 10, [3, 4]).');
  for (const [name, v] of [
    ['low', low],
    ['high', high],
  ] as const) {
    if (!Number.isInteger(v)) throw new Error(`randint: ${name} must be an integer, got ${v}.`);
  }
  if (high <= low)
    throw new Error(`randint: high (${high}) must be greater than low (${low}); the range is [low, high).`);
  const rng = rngOf(options);
  const values = new Float64Array(sizeOf(shape, 'randint'));
  const span = high - low;
  for (let i = 0; i < values.length; i++) values[i] = low + rng.int(span);
  return fromValues('randint', values, shape, withDefaults({ dtype: 'int32' }, options));
}
