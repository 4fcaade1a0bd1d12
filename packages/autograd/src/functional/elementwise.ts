// Elementwise ops: arithmetic with broadcasting, the unary math functions, activations.

import type { UnaryGradOp, UnaryOp } from '@wgtorch/kernels-wgsl';
import type { Backend, Raw } from '../backend.js';
import { sameShape } from '../shape.js';
import { apply, defineOp, tidy, Tensor, type OpDef } from '../tensor.js';
import { addTensorMethods, fromOutput, reduceTo, andThen, type Grads } from './common.js';

const addOp = defineOp({
  name: 'add',
  forward: (b, [x, y]) => ({ y: b.k.add(x, y) }),
  backward: (b, dy, { needs, shapes }) => [
    needs[0] ? reduceTo(b, b.retain(dy), shapes[0]) : null,
    needs[1] ? reduceTo(b, b.retain(dy), shapes[1]) : null,
  ],
});

const subOp = defineOp({
  name: 'sub',
  forward: (b, [x, y]) => ({ y: b.k.sub(x, y) }),
  backward: (b, dy, { needs, shapes }) => [
    needs[0] ? reduceTo(b, b.retain(dy), shapes[0]) : null,
    needs[1] ? reduceTo(b, b.k.scale(dy, -1), shapes[1]) : null,
  ],
});

const mulOp = defineOp({
  name: 'mul',
  forward: (b, [x, y], _a, record) => ({ y: b.k.mul(x, y), saved: record ? [b.retain(x), b.retain(y)] : [] }),
  backward: (b, dy, { saved: [x, y], needs, shapes }) => [
    needs[0] ? reduceTo(b, b.k.mul(dy, y), shapes[0]) : null,
    needs[1] ? reduceTo(b, b.k.mul(dy, x), shapes[1]) : null,
  ],
});

const divOp = defineOp({
  name: 'div',
  forward: (b, [x, y], _a, record) => ({ y: b.k.div(x, y), saved: record ? [b.retain(x), b.retain(y)] : [] }),
  backward: (b, dy, { saved: [x, y], needs, shapes }): Grads => {
    const q = b.k.div(dy, y); // dy / y
    const dx = needs[0] ? reduceTo(b, b.retain(q), shapes[0]) : null;
    // d(x/y)/dy = -x / y^2
    const dyy = needs[1]
      ? reduceTo(
          b,
          andThen(
            b,
            andThen(b, b.k.mul(q, x), (t) => b.k.div(t, y)),
            (t) => b.k.scale(t, -1),
          ),
          shapes[1],
        )
      : null;
    b.release(q);
    return [dx, dyy];
  },
});

const addScalarOp = defineOp<{ s: number }>({
  name: 'addScalar',
  forward: (b, [x], { s }) => ({ y: b.k.addScalar(x, s) }),
  backward: (b, dy) => [b.retain(dy)],
});

const scaleOp = defineOp<{ s: number }>({
  name: 'scale',
  forward: (b, [x], { s }) => ({ y: b.k.scale(x, s) }),
  backward: (b, dy, { attrs }) => [b.k.scale(dy, attrs.s)],
});

function binary(op: OpDef, scalar: (x: Tensor, s: number) => Tensor, a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? scalar(a, b) : apply(op, [a, b], undefined);
}

/** a + b, broadcasting like PyTorch. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return binary(addOp, (x, s) => apply(addScalarOp, [x], { s }), a, b);
}

/** a - b, broadcasting like PyTorch. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return binary(subOp, (x, s) => apply(addScalarOp, [x], { s: -s }), a, b);
}

/** a * b elementwise, broadcasting like PyTorch. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return binary(mulOp, (x, s) => apply(scaleOp, [x], { s }), a, b);
}

/** a / b elementwise, broadcasting like PyTorch. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  return binary(divOp, (x, s) => apply(scaleOp, [x], { s: 1 / s }), a, b);
}

const unaryGrad: Partial<Record<UnaryOp, (b: Backend, dy: Raw, x: Raw, y: Raw) => Raw>> = {
  exp: (b, dy, _x, y) => b.k.mul(dy, y),
  log: (b, dy, x) => b.k.div(dy, x),
  neg: (b, dy) => b.k.scale(dy, -1),
  sqrt: (b, dy, _x, y) => andThen(b, b.k.div(dy, y), (t) => b.k.scale(t, 0.5)),
  rsqrt: (b, dy, x, y) =>
    andThen(
      b,
      andThen(b, b.k.mul(dy, y), (t) => b.k.div(t, x)),
      (t) => b.k.scale(t, -0.5),
    ),
  square: (b, dy, x) => andThen(b, b.k.mul(dy, x), (t) => b.k.scale(t, 2)),
  // d tanh = 1 - y^2; d sigmoid = y (1 - y)
  tanh: (b, dy, _x, y) =>
    andThen(
      b,
      andThen(
        b,
        andThen(b, b.k.unary('square', y), (t) => b.k.scale(t, -1)),
        (t) => b.k.addScalar(t, 1),
      ),
      (t) => b.k.mul(dy, t),
    ),
  sigmoid: (b, dy, _x, y) =>
    andThen(
      b,
      andThen(
        b,
        andThen(b, b.k.scale(y, -1), (t) => b.k.addScalar(t, 1)),
        (t) => b.k.mul(t, y),
      ),
      (t) => b.k.mul(dy, t),
    ),
  ...Object.fromEntries(
    (['abs', 'reciprocal', 'erf', 'gelu', 'geluTanh', 'silu'] as const).map((op: UnaryGradOp) => [
      op,
      (b: Backend, dy: Raw, x: Raw) => b.k.unaryBackward(op, dy, x),
    ]),
  ),
};

const unaryOp = defineOp<{ op: UnaryOp }>({
  name: 'unary',
  forward: (b, [x], { op }, record) => {
    const y = b.k.unary(op, x);
    return { y, saved: record ? [b.retain(x), b.retain(y)] : [] };
  },
  backward: (b, dy, { saved: [x, y], attrs }) => [unaryGrad[attrs.op]!(b, dy, x, y)],
});

const unary = (op: UnaryOp) => (x: Tensor) => apply(unaryOp, [x], { op });
/** e^x elementwise. */
export const exp = unary('exp');
/** Natural logarithm elementwise. */
export const log = unary('log');
/** -x elementwise. */
export const neg = unary('neg');
/** Square root elementwise. */
export const sqrt = unary('sqrt');
/** x^2 elementwise. */
export const square = unary('square');
/** tanh elementwise. */
export const tanh = unary('tanh');
/** 1 / (1 + e^-x) elementwise. */
export const sigmoid = unary('sigmoid');
/** 1 / sqrt(x) elementwise. */
export const rsqrt = unary('rsqrt');
/** |x| elementwise; its gradient is 0 at 0 (and at NaN), as PyTorch's. */
export const abs = unary('abs');
/** 1 / x elementwise (+-inf at +-0). */
export const reciprocal = unary('reciprocal');
/** The error function elementwise (float32 kernel: absolute error under 2e-7). */
export const erf = unary('erf');
/** x * sigmoid(x) elementwise (PyTorch's F.silu; NaN at -inf as there). */
export const silu = unary('silu');

/**
 * x * Phi(x) elementwise, Phi the standard normal CDF (PyTorch's F.gelu): approximate 'none'
 * uses erf, 'tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'.`);
  }
  return apply(unaryOp, [x], { op: approximate === 'tanh' ? 'geluTanh' : 'gelu' });
}

const leakyReluOp = defineOp<{ slope: number }>({
  name: 'leakyRelu',
  forward: (b, [x], { slope }, record) => ({ y: b.k.leakyRelu(x, slope), saved: record ? [b.retain(x)] : [] }),
  backward: (b, dy, { saved: [x], attrs }) => [b.k.leakyReluBackward(dy, x, attrs.slope)],
});

/** x where x > 0, else negativeSlope * x (PyTorch's F.leaky_relu; the gradient at 0 is the slope). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  if (!Number.isFinite(negativeSlope))
    throw new Error(`leakyRelu: negativeSlope must be finite, got ${negativeSlope}.`);
  return apply(leakyReluOp, [x], { slope: negativeSlope });
}

const softplusOp = defineOp<{ beta: number; threshold: number }>({
  name: 'softplus',
  forward: (b, [x], { beta, threshold }, record) => ({
    y: b.k.softplus(x, beta, threshold),
    saved: record ? [b.retain(x)] : [],
  }),
  backward: (b, dy, { saved: [x], attrs }) => [b.k.softplusBackward(dy, x, attrs.beta, attrs.threshold)],
});

/** log(1 + e^(beta x)) / beta elementwise, and x where beta x > threshold (PyTorch's F.softplus). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  if (!Number.isFinite(beta) || beta === 0) throw new Error(`softplus: beta must be finite and nonzero, got ${beta}.`);
  if (Number.isNaN(threshold)) throw new Error('softplus: threshold is NaN; pass a number (default 20).');
  return apply(softplusOp, [x], { beta, threshold });
}

const clampOp = defineOp<{ min: number; max: number }>({
  name: 'clamp',
  forward: (b, [x], { min, max }, record) => ({ y: b.k.clamp(x, min, max), saved: record ? [b.retain(x)] : [] }),
  backward: (b, dy, { saved: [x], attrs }) => [b.k.clampBackward(dy, x, attrs.min, attrs.max)],
});

/**
 * min(max(x, min), max) elementwise, either bound optional (null or undefined), as torch.clamp:
 * NaN stays NaN, max wins where min > max, and the gradient is dy where min <= x <= max, else 0.
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  if (min == null && max == null) throw new Error("clamp: at least one of 'min' or 'max' must be given.");
  for (const [name, v] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (v != null && Number.isNaN(v)) throw new Error(`clamp: ${name} is NaN; pass a number, or null for no bound.`);
  }
  return apply(clampOp, [x], { min: min ?? -Infinity, max: max ?? Infinity });
}

/** A binary op whose kernel backward returns both gradients at the broadcast shape. */
function broadcastPair(name: 'maximum' | 'minimum' | 'pow'): OpDef {
  return defineOp({
    name,
    forward: (b, [x, y], _a, record) => ({ y: b.k[name](x, y), saved: record ? [b.retain(x), b.retain(y)] : [] }),
    backward: (b, dy, { saved: [x, y], needs, shapes }) => {
      const { da, db } = b.k[`${name}Backward`](dy, x, y);
      return [
        needs[0] ? reduceTo(b, da, shapes[0]) : (b.release(da), null),
        needs[1] ? reduceTo(b, db, shapes[1]) : (b.release(db), null),
      ];
    },
  });
}

const maximumOp = broadcastPair('maximum');
const minimumOp = broadcastPair('minimum');
const powOp = broadcastPair('pow');

/** The larger of a and b elementwise, broadcasting (torch.maximum): NaN where either is NaN; ties split dy in half. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return apply(maximumOp, [a, b], undefined);
}

/** The smaller of a and b elementwise, broadcasting (torch.minimum): NaN where either is NaN; ties split dy in half. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return apply(minimumOp, [a, b], undefined);
}

const powScalarOp = defineOp<{ exponent: number }>({
  name: 'pow',
  forward: (b, [x], { exponent }, record) => ({
    y: b.k.powScalar(x, exponent),
    saved: record ? [b.retain(x)] : [],
  }),
  backward: (b, dy, { saved: [x], attrs }) => [b.k.powScalarBackward(dy, x, attrs.exponent)],
});

/**
 * x ** exponent elementwise (torch.pow): a number exponent, or a tensor broadcast with x. C's
 * pow rules (pow(x, 0) = pow(1, y) = 1 even for NaN; a negative base with a non-integer
 * exponent is NaN); PyTorch's gradients (0 for exponent 0; for a tensor exponent
 * dy * x^e * log(x), 0 where x == 0 and e >= 0).
 */
export function pow(x: Tensor, exponent: Tensor | number): Tensor {
  if (typeof exponent === 'number') return apply(powScalarOp, [x], { exponent });
  return apply(powOp, [x, exponent], undefined);
}

const reluOp = fromOutput(
  'relu',
  (b, x) => b.k.relu(x),
  (b, dy, y) => b.k.reluBackward(dy, y),
);

/** max(x, 0) elementwise. */
export function relu(x: Tensor): Tensor {
  return apply(reluOp, [x], undefined);
}

const addReluOp = defineOp({
  name: 'addRelu',
  forward: (b, [x, y], _a, record) => {
    const out = b.k.addRelu(x, y);
    return { y: out, saved: record ? [b.retain(out)] : [] };
  },
  backward: (b, dy, { saved: [y], needs }) => {
    const g = b.k.reluBackward(dy, y);
    const grads: Grads = [needs[0] ? b.retain(g) : null, needs[1] ? b.retain(g) : null];
    b.release(g);
    return grads;
  },
});

/** relu(a + b) in one kernel (the residual join of ResNet); broadcasting falls back to relu(add(a, b)). */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  if (sameShape(a.shape, b.shape)) return apply(addReluOp, [a, b], undefined);
  return tidy(() => relu(add(a, b)));
}

declare module '../tensor.js' {
  interface Tensor {
    /** Elementwise sum with broadcasting. */
    add(other: Tensor | number): Tensor;
    /** Elementwise difference with broadcasting. */
    sub(other: Tensor | number): Tensor;
    /** Elementwise product with broadcasting. */
    mul(other: Tensor | number): Tensor;
    /** Elementwise quotient with broadcasting. */
    div(other: Tensor | number): Tensor;
    /** max(x, 0). */
    relu(): Tensor;
    /** Elementwise e^x. */
    exp(): Tensor;
    /** Elementwise natural logarithm. */
    log(): Tensor;
    /** Elementwise negation. */
    neg(): Tensor;
    /** Elementwise power (a number or a broadcast tensor exponent). */
    pow(exponent: Tensor | number): Tensor;
    /** Elementwise absolute value. */
    abs(): Tensor;
    /** Elementwise clamp to [min, max]; either bound optional (null or undefined). */
    clamp(min?: number | null, max?: number | null): Tensor;
    /** Elementwise maximum with broadcasting (NaN where either is NaN). */
    maximum(other: Tensor): Tensor;
    /** Elementwise minimum with broadcasting (NaN where either is NaN). */
    minimum(other: Tensor): Tensor;
    /** Elementwise error function. */
    erf(): Tensor;
    /** Elementwise 1 / x. */
    reciprocal(): Tensor;
  }
}

addTensorMethods({
  add(this: Tensor, other: Tensor | number) {
    return add(this, other);
  },
  sub(this: Tensor, other: Tensor | number) {
    return sub(this, other);
  },
  mul(this: Tensor, other: Tensor | number) {
    return mul(this, other);
  },
  div(this: Tensor, other: Tensor | number) {
    return div(this, other);
  },
  relu(this: Tensor) {
    return relu(this);
  },
  exp(this: Tensor) {
    return exp(this);
  },
  log(this: Tensor) {
    return log(this);
  },
  neg(this: Tensor) {
    return neg(this);
  },
  pow(this: Tensor, exponent: Tensor | number) {
    return pow(this, exponent);
  },
  abs(this: Tensor) {
    return abs(this);
  },
  clamp(this: Tensor, min?: number | null, max?: number | null) {
    return clamp(this, min, max);
  },
  maximum(this: Tensor, other: Tensor) {
    return maximum(this, other);
  },
  minimum(this: Tensor, other: Tensor) {
    return minimum(this, other);
  },
  erf(this: Tensor) {
    return erf(this);
  },
  reciprocal(this: Tensor) {
    return reciprocal(this);
  },
});
