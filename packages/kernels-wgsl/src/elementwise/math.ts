// Elementwise math with PyTorch's NaN and infinity rules: the gradients of the unary functions,
// leakyRelu, softplus, clamp, maximum/minimum and pow, each forward and backward. All are
// expressions on the map and broadcast kernels of wgsl.ts (math-wgsl.ts has the functions WGSL lacks).

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { broadcastMap, runMap } from './elementwise.js';
import { checkF32 } from './launch.js';

/** Same-shape f32 inputs of a map kernel. */
function checkMap(kernel: string, names: string[], ts: Tensor[]): void {
  ts.forEach((t, i) => checkF32(kernel, names[i], t));
  for (let i = 1; i < ts.length; i++) {
    if (!sameShape(ts[0].shape, ts[i].shape)) {
      throw new KernelArgumentError(
        kernel,
        `${names[0]} ${formatShape(ts[0].shape)} and ${names[i]} ${formatShape(ts[i].shape)} must have the same shape.`,
      );
    }
  }
}

function checkNumber(kernel: string, name: string, v: number, finite = true): void {
  if (typeof v !== 'number' || Number.isNaN(v) || (finite && !Number.isFinite(v))) {
    throw new KernelArgumentError(kernel, `${name} must be a ${finite ? 'finite ' : ''}number, got ${String(v)}.`);
  }
}

/** The functions whose gradient unaryBackward computes from x. */
export type UnaryGradOp = 'abs' | 'reciprocal' | 'erf' | 'gelu' | 'geluTanh' | 'silu';

// a = dy, b = x. PyTorch's formulas: abs's is dy * sign(x) with sign(NaN) = 0; reciprocal's is
// -dy * (1/x)^2; gelu's is dy * (cdf + x * pdf), NaN at +-inf as there.
const UNARY_GRAD: Record<UnaryGradOp, string> = {
  abs: 'a * select(select(T(0.0), T(1.0), b > T(0.0)), T(-1.0), b < T(0.0))',
  reciprocal: '-a * ((T(1.0) / b) * (T(1.0) / b))',
  erf: 'a * (T(1.1283791670955126) * exp(-(b * b)))',
  gelu:
    'a * (T(0.5) * (T(1.0) + ew_erf(b * T(0.7071067811865476))) ' +
    '+ b * (exp(T(-0.5) * b * b) * T(0.3989422804014327)))',
  geluTanh: 'a * ew_geluTanhGrad(b)',
  silu: 'a * ((T(1.0) / (T(1.0) + exp(-b))) * (T(1.0) + b * (T(1.0) - T(1.0) / (T(1.0) + exp(-b)))))',
};

/** dx of unary(op, x) for the upstream gradient dy (the ops of UnaryGradOp). */
export function unaryBackward(op: UnaryGradOp, dy: Tensor, x: Tensor): Tensor {
  const expr = UNARY_GRAD[op];
  if (!expr) {
    throw new KernelArgumentError(
      'unaryBackward',
      `no gradient for '${String(op)}'; use one of ${Object.keys(UNARY_GRAD).join(', ')}.`,
    );
  }
  checkMap(`unaryBackward.${op}`, ['dy', 'x'], [dy, x]);
  return runMap(`unaryBackward.${op}`, expr, [dy, x], dy.shape);
}

/** x where x > 0, else negativeSlope * x (NaN stays NaN). */
export function leakyRelu(x: Tensor, negativeSlope: number): Tensor {
  checkMap('leakyRelu', ['x'], [x]);
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return runMap('leakyRelu', 'select(a * T(params.s0), a, a > T(0.0))', [x], x.shape, negativeSlope);
}

/** dy where x > 0, else negativeSlope * dy (PyTorch's: so the slope at 0 and at NaN). */
export function leakyReluBackward(dy: Tensor, x: Tensor, negativeSlope: number): Tensor {
  checkMap('leakyReluBackward', ['dy', 'x'], [dy, x]);
  checkNumber('leakyReluBackward', 'negativeSlope', negativeSlope);
  return runMap('leakyReluBackward', 'select(a * T(params.s0), a, b > T(0.0))', [dy, x], dy.shape, negativeSlope);
}

/**
 * log(1 + e^(beta x)) / beta, and x where beta x > threshold (PyTorch's). Written as
 * (max(z, 0) + log1p(e^-|z|)) / beta, z = beta x, which neither overflows nor loses small values.
 */
export function softplus(x: Tensor, beta: number, threshold: number): Tensor {
  checkMap('softplus', ['x'], [x]);
  checkNumber('softplus', 'beta', beta);
  checkNumber('softplus', 'threshold', threshold, false);
  if (beta === 0) throw new KernelArgumentError('softplus', 'beta must not be 0 (the result divides by it).');
  const z = '(a * T(params.s0))';
  const stable = `(select(T(0.0), ${z}, ${z} > T(0.0)) + ew_log1p(exp(-abs(${z})))) / T(params.s0)`;
  const expr = `select(${stable}, a, ${z} > T(params.s1))`;
  return runMap('softplus', expr, [x], x.shape, beta, threshold);
}

/** dy * sigmoid(beta x), and dy where beta x > threshold. */
export function softplusBackward(dy: Tensor, x: Tensor, beta: number, threshold: number): Tensor {
  checkMap('softplusBackward', ['dy', 'x'], [dy, x]);
  checkNumber('softplusBackward', 'beta', beta);
  checkNumber('softplusBackward', 'threshold', threshold, false);
  const z = '(b * T(params.s0))';
  const expr = `select(a / (T(1.0) + exp(-${z})), a, ${z} > T(params.s1))`;
  return runMap('softplusBackward', expr, [dy, x], dy.shape, beta, threshold);
}

/** min(max(x, min), max) keeping NaN; -Infinity / Infinity for a bound that is absent; max wins where min > max. */
export function clamp(x: Tensor, min: number, max: number): Tensor {
  checkMap('clamp', ['x'], [x]);
  checkNumber('clamp', 'min', min, false);
  checkNumber('clamp', 'max', max, false);
  const expr = 'select(select(a, T(params.s0), a < T(params.s0)), T(params.s1), a > T(params.s1))';
  // The compiler may reorder the two selects into min(max(..)) either way round, so min > max
  // (every result max) is passed as min = max.
  return runMap('clamp', expr, [x], x.shape, Math.min(min, max), max);
}

/** dy where min <= x <= max, else 0 (so 0 at NaN), as PyTorch's clamp_backward. */
export function clampBackward(dy: Tensor, x: Tensor, min: number, max: number): Tensor {
  checkMap('clampBackward', ['dy', 'x'], [dy, x]);
  checkNumber('clampBackward', 'min', min, false);
  checkNumber('clampBackward', 'max', max, false);
  const expr = 'select(T(0.0), a, (b >= T(params.s0)) & (b <= T(params.s1)))';
  return runMap('clampBackward', expr, [dy, x], dy.shape, min, max);
}

const NAN_EITHER = 'ew_isnan(a) | ew_isnan(b)';

/** The larger of a and b elementwise, broadcasting; NaN where either is NaN. */
export const maximum = (a: Tensor, b: Tensor): Tensor =>
  broadcastMap('maximum', `select(select(b, a, a > b), a + b, ${NAN_EITHER})`, [a, b]);

/** The smaller of a and b elementwise, broadcasting; NaN where either is NaN. */
export const minimum = (a: Tensor, b: Tensor): Tensor =>
  broadcastMap('minimum', `select(select(b, a, a < b), a + b, ${NAN_EITHER})`, [a, b]);

/**
 * PyTorch's gradients of maximum (min: false) or minimum: dy to the chosen input, half to each
 * where a == b, all to both where one is NaN; both at the broadcast shape of dy.
 */
function maxMinBackward(kernel: string, dy: Tensor, a: Tensor, b: Tensor, min: boolean): { da: Tensor; db: Tensor } {
  const [aLoses, bLoses] = min ? ['b > c', 'b < c'] : ['b < c', 'b > c'];
  const half = 'select(a, a * T(0.5), b == c)';
  const names = ['dy', 'a', 'b'];
  return {
    da: broadcastMap(`${kernel}.a`, `select(${half}, T(0.0), ${aLoses})`, [dy, a, b], names),
    db: broadcastMap(`${kernel}.b`, `select(${half}, T(0.0), ${bLoses})`, [dy, a, b], names),
  };
}

/** Gradients of maximum(a, b) at dy's (the broadcast) shape: { da, db }, to be summed down to a's and b's shapes. */
export const maximumBackward = (dy: Tensor, a: Tensor, b: Tensor): { da: Tensor; db: Tensor } =>
  maxMinBackward('maximumBackward', dy, a, b, false);

/** Gradients of minimum(a, b) at dy's (the broadcast) shape: { da, db }. */
export const minimumBackward = (dy: Tensor, a: Tensor, b: Tensor): { da: Tensor; db: Tensor } =>
  maxMinBackward('minimumBackward', dy, a, b, true);

/**
 * x^e for a number e, with PyTorch's special cases (x for 1, x * x for 2, x * x * x for 3, sqrt for 0.5,
 * 1 / sqrt for -0.5, 1 / x for -1, 1 / (x * x) for -2), else C's pow. `v` names the input,
 * `e` the param that holds the exponent.
 */
export function powScalarWgsl(v: string, exponent: number, e: string): string {
  const special: Record<string, string> = {
    '1': v,
    '2': `${v} * ${v}`,
    '3': `${v} * ${v} * ${v}`,
    '0.5': `sqrt(${v})`,
    '-0.5': `T(1.0) / sqrt(${v})`,
    '-1': `T(1.0) / ${v}`,
    '-2': `T(1.0) / (${v} * ${v})`,
  };
  return special[String(exponent)] ?? `ew_pow(${v}, T(${e}))`;
}

/** x^exponent for a number exponent (PyTorch's pow(Tensor, Scalar)). */
export function powScalar(x: Tensor, exponent: number): Tensor {
  checkMap('powScalar', ['x'], [x]);
  checkNumber('powScalar', 'exponent', exponent, false);
  return runMap('powScalar', powScalarWgsl('a', exponent, 'params.s0'), [x], x.shape, exponent);
}

/** dy * exponent * x^(exponent - 1); 0 for exponent 0 (PyTorch's pow_backward). */
export function powScalarBackward(dy: Tensor, x: Tensor, exponent: number): Tensor {
  checkMap('powScalarBackward', ['dy', 'x'], [dy, x]);
  checkNumber('powScalarBackward', 'exponent', exponent, false);
  if (exponent === 0) return runMap('powScalarBackward', 'T(0.0)', [], dy.shape);
  const expr = `a * (T(params.s0) * ${powScalarWgsl('b', exponent - 1, 'params.s1')})`;
  return runMap('powScalarBackward', expr, [dy, x], dy.shape, exponent, exponent - 1);
}

/** a^b elementwise with broadcasting (C's pow, as PyTorch's pow of two tensors). */
export const pow = (a: Tensor, b: Tensor): Tensor => broadcastMap('pow', 'ew_pow(a, b)', [a, b]);

/**
 * Gradients of pow(a, b) at dy's (the broadcast) shape, PyTorch's: da = dy * b * a^(b - 1) (0
 * where b == 0), db = dy * a^b * log(a) (0 where a == 0 and b >= 0).
 */
export function powBackward(dy: Tensor, a: Tensor, b: Tensor): { da: Tensor; db: Tensor } {
  const names = ['dy', 'a', 'b'];
  const daExpr = 'select(a * (c * ew_pow(b, c - T(1.0))), T(0.0), c == T(0.0))';
  const dbExpr = 'a * select(ew_pow(b, c) * log(b), T(0.0), (b == T(0.0)) & (c >= T(0.0)))';
  return {
    da: broadcastMap('powBackward.a', daExpr, [dy, a, b], names),
    db: broadcastMap('powBackward.b', dbExpr, [dy, a, b], names),
  };
}
