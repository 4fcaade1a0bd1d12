// The differentiable ops. Each is declared once, in one block: its forward and backward
// (written against the kernel names both backends share) and then its public function
// (PyTorch's torch.* / torch.nn.functional.* in camelCase).

import { Tensor as DeviceTensor, formatShape, sizeOf } from '@wgtorch/tensor';
import { classLabels } from '@wgtorch/kernels-wgsl';
import type { AvgPool2dOptions as Pool2dOptions, Conv2dOptions, UnaryGradOp, UnaryOp } from '@wgtorch/kernels-wgsl';
import type { Backend, Raw } from './backend.js';
import { sameShape } from './shape.js';
import { apply, defineOp, isGradEnabled, tidy, Tensor, type OpDef } from './tensor.js';

type Grads = (Raw | null)[];

/** Sums a broadcast gradient down to `shape`; consumes `g`. */
function reduceTo(b: Backend, g: Raw, shape: readonly number[]): Raw {
  if (sameShape(b.shape(g), shape)) return g;
  const s = b.k.sumToShape(g, [...shape]);
  b.release(g);
  return s;
}

/** f(x) then g(result), releasing the intermediate. */
function then(b: Backend, r: Raw, f: (r: Raw) => Raw): Raw {
  const out = f(r);
  b.release(r);
  return out;
}

/** Spreads a reduced gradient (keepdim shape) back over `shape`, times `factor`. */
function expandTo(b: Backend, dyKeep: Raw, shape: readonly number[], factor: number): Raw {
  const zero = b.k.fill([...shape], 0);
  const scaled = factor === 1 ? dyKeep : b.k.scale(dyKeep, factor);
  const out = b.k.add(zero, scaled);
  b.release(zero);
  if (scaled !== dyKeep) b.release(scaled);
  return out;
}

// ---- elementwise ----

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
          then(
            b,
            then(b, b.k.mul(q, x), (t) => b.k.div(t, y)),
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
  sqrt: (b, dy, _x, y) => then(b, b.k.div(dy, y), (t) => b.k.scale(t, 0.5)),
  rsqrt: (b, dy, x, y) =>
    then(
      b,
      then(b, b.k.mul(dy, y), (t) => b.k.div(t, x)),
      (t) => b.k.scale(t, -0.5),
    ),
  square: (b, dy, x) => then(b, b.k.mul(dy, x), (t) => b.k.scale(t, 2)),
  // d tanh = 1 - y^2; d sigmoid = y (1 - y)
  tanh: (b, dy, _x, y) =>
    then(
      b,
      then(
        b,
        then(b, b.k.unary('square', y), (t) => b.k.scale(t, -1)),
        (t) => b.k.addScalar(t, 1),
      ),
      (t) => b.k.mul(dy, t),
    ),
  sigmoid: (b, dy, _x, y) =>
    then(
      b,
      then(
        b,
        then(b, b.k.scale(y, -1), (t) => b.k.addScalar(t, 1)),
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

/** An op y = f(x) whose backward needs only y. */
function fromOutput(name: string, f: (b: Backend, x: Raw) => Raw, df: (b: Backend, dy: Raw, y: Raw) => Raw) {
  return defineOp({
    name,
    forward: (b, [x], _a, record) => {
      const y = f(b, x);
      return { y, saved: record ? [b.retain(y)] : [] };
    },
    backward: (b, dy, { saved: [y] }) => [df(b, dy, y)],
  });
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

// ---- shapes ----

const reshapeOp = defineOp<{ shape: number[] }>({
  name: 'reshape',
  forward: (b, [x], { shape }) => ({ y: b.view(x, shape) }),
  backward: (b, dy, { shapes }) => [b.view(dy, shapes[0])],
});

function resolveShape(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const size = sizeOf(from);
  const s = [...shape];
  const i = s.indexOf(-1);
  if (i >= 0) {
    const rest = s.reduce((a, d, j) => (j === i ? a : a * d), 1);
    s[i] = rest === 0 ? 0 : size / rest;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(s) !== size) {
    throw new Error(
      `${op}: cannot view ${formatShape(from)} (${size} elements) as ${formatShape(shape)}; ` +
        'the element counts must match.',
    );
  }
  return s;
}

/** The same data under another shape; -1 infers one dimension. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return apply(reshapeOp, [x], { shape: resolveShape('reshape', x.shape, shape) });
}

/** Flattens dimensions startDim..endDim (inclusive; negative counts from the end) into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const n = x.ndim;
  const s = startDim < 0 ? startDim + n : startDim;
  const e = endDim < 0 ? endDim + n : endDim;
  if (s < 0 || e >= n || s > e)
    throw new Error(`flatten: dims ${startDim}..${endDim} are out of range for ${formatShape(x.shape)}.`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

const transposeOp = defineOp({
  name: 'transpose',
  forward: (b, [x]) => ({ y: b.k.transpose2d(x) }),
  backward: (b, dy) => [b.k.transpose2d(dy)],
});

/** Transpose of a 2-D tensor. */
export function transpose(x: Tensor): Tensor {
  if (x.ndim !== 2)
    throw new Error(`transpose: expects a 2-D tensor, got ${formatShape(x.shape)}; use permute for more dimensions.`);
  return apply(transposeOp, [x], undefined);
}

const permuteOp = defineOp<{ dims: number[] }>({
  name: 'permute',
  forward: (b, [x], { dims }) => ({ y: b.k.permute(x, dims) }),
  backward: (b, dy, { attrs }) => {
    const inv = new Array<number>(attrs.dims.length);
    attrs.dims.forEach((d, i) => (inv[d] = i));
    return [b.k.permute(dy, inv)];
  },
});

/** Reorders the dimensions: output dim i is input dim dims[i]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const sorted = [...dims].sort((a, b) => a - b);
  if (dims.length !== x.ndim || sorted.some((d, i) => d !== i)) {
    throw new Error(
      `permute: [${dims.join(', ')}] is not a permutation of the ${x.ndim} dims of ${formatShape(x.shape)}.`,
    );
  }
  return apply(permuteOp, [x], { dims: [...dims] });
}

// ---- reductions ----

const sumOp = defineOp<{ axes: number[]; keepdim: boolean; scale: number }>({
  name: 'sum',
  forward: (b, [x], { axes, keepdim, scale }) => {
    const s = b.k.sum(x, axes, keepdim);
    return { y: scale === 1 ? s : then(b, s, (t) => b.k.scale(t, scale)) };
  },
  backward: (b, dy, { attrs, shapes }) => {
    const keepShape = shapes[0].map((d, i) => (attrs.axes.includes(i) ? 1 : d));
    return [then(b, b.view(dy, keepShape), (v) => expandTo(b, v, shapes[0], attrs.scale))];
  },
});

function axesOf(op: string, x: Tensor, dim: number | readonly number[] | undefined): number[] {
  const n = x.ndim;
  const list = dim === undefined ? [...Array(n).keys()] : typeof dim === 'number' ? [dim] : [...dim];
  const axes = list.map((d) => (d < 0 ? d + n : d));
  if (axes.some((d) => d < 0 || d >= n))
    throw new Error(`${op}: dim ${JSON.stringify(dim)} is out of range for ${formatShape(x.shape)}.`);
  return [...new Set(axes)].sort((a, b) => a - b);
}

/** Sum over `dim` (a dim or a list; all dims when omitted). */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return apply(sumOp, [x], { axes: axesOf('sum', x, dim), keepdim, scale: 1 });
}

/** Mean over `dim` (a dim or a list; all dims when omitted). */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = axesOf('mean', x, dim);
  const n = axes.reduce((a, d) => a * x.shape[d], 1);
  return apply(sumOp, [x], { axes, keepdim, scale: 1 / n });
}

// ---- linear algebra and convolution ----

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  forward: (b, [x, y], o, record) => ({ y: b.k.matmul(x, y, o), saved: record ? [b.retain(x), b.retain(y)] : [] }),
  backward: (b, dy, { saved: [a, w], attrs: { transA, transB }, needs }) => [
    // C = op(A) op(B): dA = dC op(B)^T (transposed back when A was), dB likewise.
    needs[0]
      ? transA
        ? b.k.matmul(w, dy, { transA: transB, transB: true })
        : b.k.matmul(dy, w, { transB: !transB })
      : null,
    needs[1]
      ? transB
        ? b.k.matmul(dy, a, { transA: true, transB: transA })
        : b.k.matmul(a, dy, { transA: !transA })
      : null,
  ],
});

/** Matrix product of 2-D tensors, or batched over the first dim of 3-D ones; transA/transB use a transposed operand. */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return apply(matmulOp, [a, b], { transA: options.transA ?? false, transB: options.transB ?? false });
}

const linearOp = defineOp({
  name: 'linear',
  forward: (b, [x, w, bias], _a, record) => {
    const xw = b.k.matmul(x, w, { transB: true });
    const y = bias ? then(b, xw, (t) => b.k.add(t, bias)) : xw;
    return { y, saved: record ? [b.retain(x), b.retain(w)] : [] };
  },
  backward: (b, dy, { saved: [x, w], needs, shapes }) => [
    needs[0] ? b.k.matmul(dy, w, {}) : null,
    needs[1] ? b.k.matmul(dy, x, { transA: true }) : null,
    needs[2] ? b.k.sumToShape(dy, [...shapes[2]]) : null,
  ],
});

/** y = x w^T + b for x [N, in], w [out, in], b [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (x.ndim !== 2 || weight.ndim !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new Error(
      `linear: input ${formatShape(x.shape)} and weight ${formatShape(weight.shape)} do not fit; ` +
        'expected [N, in] and [out, in].',
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new Error(
      `linear: bias ${formatShape(bias.shape)} must be [${weight.shape[0]}] for weight ${formatShape(weight.shape)}.`,
    );
  }
  return apply(linearOp, bias ? [x, weight, bias] : [x, weight], undefined);
}

const conv2dOp = defineOp<Conv2dOptions>({
  name: 'conv2d',
  forward: (b, [x, w, bias], o, record) => {
    const conv = b.k.conv2dForward(x, w, o);
    let y = conv;
    if (bias) {
      const bv = b.view(bias, [1, b.shape(bias)[0], 1, 1]);
      y = b.k.add(conv, bv);
      b.release(bv);
      b.release(conv);
    }
    return { y, saved: record ? [b.retain(x), b.retain(w)] : [] };
  },
  backward: (b, dy, { saved: [x, w], attrs, needs, shapes }) => [
    needs[0] ? b.k.conv2dInputGrad(dy, w, [...shapes[0]], attrs) : null,
    needs[1] ? b.k.conv2dWeightGrad(x, dy, [...shapes[1]], attrs) : null,
    needs[2] ? then(b, b.k.sumToShape(dy, [1, shapes[2][0], 1, 1]), (s) => b.view(s, shapes[2])) : null,
  ],
});

/** Options of conv2d. */
export interface Conv2dFnOptions {
  /** Stride on both axes (default 1). */
  stride?: number;
  /** Zero padding on each side (default 0). */
  padding?: number;
}

/** 2-D convolution (cross-correlation, as PyTorch) of x [N, C, H, W] with weight [O, C, k, k], plus bias [O]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dFnOptions = {}): Tensor {
  if (x.ndim !== 4 || weight.ndim !== 4 || x.shape[1] !== weight.shape[1]) {
    throw new Error(
      `conv2d: input ${formatShape(x.shape)} and weight ${formatShape(weight.shape)} do not fit; ` +
        'expected [N, C, H, W] and [O, C, kH, kW].',
    );
  }
  const o: Conv2dOptions = { stride: options.stride ?? 1, padding: options.padding ?? 0 };
  return apply(conv2dOp, bias ? [x, weight, bias] : [x, weight], o);
}

// ---- normalization ----

interface BnAttrs {
  runningMean: Raw | null;
  runningVar: Raw | null;
  momentum: number;
  eps: number;
}

/** A train forward's result when nothing is recorded: the batch statistics released. */
function withoutStats(b: Backend, r: { y: Raw; saveMean: Raw; saveInvStd: Raw }): { y: Raw } {
  b.release(r.saveMean);
  b.release(r.saveInvStd);
  return { y: r.y };
}

/** The gradients of x, gamma and beta that are needed; the others released. */
function neededGrads(b: Backend, g: { dx: Raw; dgamma: Raw; dbeta: Raw }, needs: boolean[]): Grads {
  const pick = (r: Raw, need: boolean) => (need ? r : (b.release(r), null));
  return [pick(g.dx, needs[0]), pick(g.dgamma, needs[1]), pick(g.dbeta, needs[2])];
}

const batchNormTrainOp = defineOp<BnAttrs>({
  name: 'batchNorm2d',
  forward: (b, [x, gamma, beta], a, record) => {
    const r = b.k.batchNormTrain(x, gamma, beta, a.runningMean!, a.runningVar!, { momentum: a.momentum, eps: a.eps });
    if (!record) return withoutStats(b, r);
    return { y: r.y, saved: [b.retain(x), b.retain(gamma), r.saveMean, r.saveInvStd] };
  },
  backward: (b, dy, { saved: [x, gamma, mean, invStd], needs }) =>
    neededGrads(b, b.k.batchNormBackward(dy, x, gamma, mean, invStd), needs),
});

const batchNormTrainReluOp = defineOp<BnAttrs>({
  name: 'batchNormRelu2d',
  forward: (b, [x, gamma, beta], a, record) => {
    const r = b.k.batchNormTrainRelu(x, gamma, beta, a.runningMean!, a.runningVar!, {
      momentum: a.momentum,
      eps: a.eps,
    });
    if (!record) return withoutStats(b, r);
    return { y: r.y, saved: [b.retain(r.y), b.retain(x), b.retain(gamma), b.retain(beta), r.saveMean, r.saveInvStd] };
  },
  backward: (b, dy, { saved: [y, x, gamma, beta, mean, invStd], needs }) =>
    neededGrads(b, b.k.batchNormReluBackward(dy, y, x, gamma, beta, mean, invStd), needs),
});

const batchNormEvalOp = defineOp<BnAttrs>({
  name: 'batchNorm2d',
  forward: (b, [x, gamma, beta], a) => ({ y: b.k.batchNormEval(x, gamma, beta, a.runningMean!, a.runningVar!, a.eps) }),
});

const batchNormEvalReluOp = defineOp<BnAttrs>({
  name: 'batchNormRelu2d',
  forward: (b, [x, gamma, beta], a) => ({
    y: b.k.batchNormEvalRelu(x, gamma, beta, a.runningMean!, a.runningVar!, a.eps),
  }),
});

/** Options of batchNorm2d (PyTorch's F.batch_norm). */
export interface BatchNormOptions {
  /** Normalize with batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalization over N, H, W of x [N, C, H, W]. In training it normalizes with the
 * batch mean and biased variance and updates runningMean/runningVar in place (unbiased
 * variance); otherwise it uses the running statistics.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions = {},
): Tensor {
  const attrs = batchNormAttrs(x, runningMean, runningVar, weight, bias, options);
  const C = x.shape[1];
  if (options.training) return apply(batchNormTrainOp, [x, weight, bias], attrs);
  if (!bnNeedsGrad(x, weight, bias)) return apply(batchNormEvalOp, [x, weight, bias], attrs);
  // Differentiable eval mode: y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps), from the ops above.
  const parts: Tensor[] = [];
  const t = (v: Tensor) => (parts.push(v), v);
  try {
    const invStd = t(apply(unaryOp, [t(add(runningVar, attrs.eps))], { op: 'rsqrt' }));
    const s = t(mul(weight, invStd));
    const shift = t(sub(bias, t(mul(runningMean, s))));
    return add(t(mul(x, t(reshape(s, [1, C, 1, 1])))), t(reshape(shift, [1, C, 1, 1])));
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * relu(batchNorm2d(...)) with the same arguments; in training one fused kernel forward and one
 * backward (no separate normalized tensor is kept).
 */
export function batchNormRelu2d(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions = {},
): Tensor {
  const attrs = batchNormAttrs(x, runningMean, runningVar, weight, bias, options);
  if (options.training) return apply(batchNormTrainReluOp, [x, weight, bias], attrs);
  // Evaluation (no grad): one fused pass; a differentiable eval composes the ops below.
  if (!bnNeedsGrad(x, weight, bias)) return apply(batchNormEvalReluOp, [x, weight, bias], attrs);
  return tidy(() => relu(batchNorm2d(x, runningMean, runningVar, weight, bias, options)));
}

/**
 * Whether an eval-mode batch norm must be differentiable. Parameters require grad even under
 * noGrad (evaluation), so the grad mode decides too: else every evaluation would take the
 * composed path (4 broadcast passes over x instead of 1).
 */
function bnNeedsGrad(x: Tensor, weight: Tensor, bias: Tensor): boolean {
  return isGradEnabled() && [x, weight, bias].some((t) => t.requiresGrad);
}

/** Checks the arguments of a batch norm and gathers its attrs. */
function batchNormAttrs(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions,
): BnAttrs {
  const C = x.shape[1];
  if (x.ndim !== 4) throw new Error(`batchNorm2d: expects [N, C, H, W], got ${formatShape(x.shape)}.`);
  for (const [name, t] of [
    ['runningMean', runningMean],
    ['runningVar', runningVar],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t.ndim !== 1 || t.shape[0] !== C)
      throw new Error(`batchNorm2d: ${name} ${formatShape(t.shape)} must be [${C}] for input ${formatShape(x.shape)}.`);
  }
  const momentum = options.momentum ?? 0.1;
  return { runningMean: runningMean.raw, runningVar: runningVar.raw, momentum, eps: options.eps ?? 1e-5 };
}

// ---- pooling ----

const avgPool2dOp = defineOp<Pool2dOptions>({
  name: 'avgPool2d',
  forward: (b, [x], o) => ({ y: b.k.avgPool2d(x, o) }),
  backward: (b, dy, { attrs, shapes }) => [b.k.avgPool2dBackward(dy, [...shapes[0]], attrs)],
});

/** Options of avgPool2d. */
export interface AvgPool2dOptions {
  /** Window size (square). */
  kernel: number;
  /** Default: the kernel size. */
  stride?: number;
  /** Default 0; padded zeros count in the average (PyTorch's count_include_pad). */
  padding?: number;
}

/** Average pooling of x [N, C, H, W] with a square window. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const o: Pool2dOptions = {
    kernel: options.kernel,
    stride: options.stride ?? options.kernel,
    padding: options.padding ?? 0,
  };
  return apply(avgPool2dOp, [x], o);
}

const globalAvgPoolOp = defineOp({
  name: 'adaptiveAvgPool2d',
  forward: (b, [x]) => ({ y: b.k.globalAvgPool(x) }),
  backward: (b, dy, { shapes }) => [b.k.globalAvgPoolBackward(dy, [...shapes[0]])],
});

/** Adaptive average pooling to `outputSize` ([1, 1] is global average pooling; otherwise H, W must divide evenly). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  const [, , H, W] = x.shape;
  if (oh === 1 && ow === 1) return apply(globalAvgPoolOp, [x], undefined);
  if (H % oh === 0 && W % ow === 0 && H / oh === W / ow) return avgPool2d(x, { kernel: H / oh });
  throw new Error(
    `adaptiveAvgPool2d: output ${oh}x${ow} from ${H}x${W} needs equal whole windows; ` +
      'only sizes that divide evenly are supported.',
  );
}

// ---- softmax and loss ----

const softmaxOp = fromOutput(
  'softmax',
  (b, x) => b.k.softmax(x),
  (b, dy, y) => b.k.softmaxBackward(dy, y),
);

/** Softmax over the last dim (dim must be -1 or the last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  lastDim('softmax', x, dim);
  return apply(softmaxOp, [x], undefined);
}

const logSoftmaxOp = fromOutput(
  'logSoftmax',
  (b, x) => b.k.logSoftmax(x),
  (b, dy, y) => b.k.logSoftmaxBackward(dy, y),
);

/** log(softmax(x)) over the last dim, computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  lastDim('logSoftmax', x, dim);
  return apply(logSoftmaxOp, [x], undefined);
}

function lastDim(op: string, x: Tensor, dim: number): void {
  if (dim !== -1 && dim !== x.ndim - 1)
    throw new Error(
      `${op}: only the last dim is supported (got dim ${dim} for ${formatShape(x.shape)}); permute first.`,
    );
}

const crossEntropyOp = defineOp<{ labels: Int32Array | DeviceTensor; labelSmoothing: number }>({
  name: 'crossEntropy',
  forward: (b, [logits], { labels, labelSmoothing }, record) => {
    const raw = b.labels(labels);
    const { loss, dlogits } = b.k.softmaxCrossEntropy(logits, raw, { labelSmoothing });
    if (raw !== labels && raw instanceof DeviceTensor) raw.dispose();
    if (!record) {
      b.release(dlogits);
      return { y: loss };
    }
    return { y: loss, saved: [dlogits] };
  },
  backward: (b, dy, { saved: [dlogits], dyIsOne }) => {
    if (dyIsOne) return [b.retain(dlogits)];
    return [then(b, b.view(dy, [1, 1]), (d) => b.k.mul(dlogits, d))];
  },
});

/** Options of crossEntropy. */
export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing in [0, 1) (default 0). */
  labelSmoothing?: number;
}

/**
 * Mean softmax cross-entropy of logits [N, classes] against class labels [N]. Returns a
 * one-element tensor [1]. Labels from the CPU (an array, Int32Array or Float32Array) are
 * checked here: each must be an integer in [0, classes), else the error names the label and
 * its index. An i32 device tensor (gpu backend) is not checked, since that would need a
 * readback every step: a label out of range there gives a NaN loss.
 */
export function crossEntropy(
  logits: Tensor,
  labels: DeviceTensor | ArrayLike<number>,
  options: CrossEntropyOptions = {},
): Tensor {
  if (logits.ndim !== 2)
    throw new Error(`crossEntropy: logits must be [N, classes], got ${formatShape(logits.shape)}.`);
  const l = labels instanceof DeviceTensor ? labels : classLabels('crossEntropy', labels, logits.shape[1]);
  const n = l instanceof DeviceTensor ? l.size : l.length;
  if (n !== logits.shape[0])
    throw new Error(`crossEntropy: ${n} labels for logits ${formatShape(logits.shape)}; need one per row.`);
  return apply(crossEntropyOp, [logits], { labels: l, labelSmoothing: options.labelSmoothing ?? 0 });
}

// ---- Tensor methods ----
// PyTorch-style shorthands for the functions above (x.add(y), x.sum()). They are put on the
// prototype here, beside the functions, so that tensor.ts needs no import of this file.

declare module './tensor.js' {
  interface Tensor {
    /** Elementwise sum with broadcasting. */
    add(other: Tensor | number): Tensor;
    /** Elementwise difference with broadcasting. */
    sub(other: Tensor | number): Tensor;
    /** Elementwise product with broadcasting. */
    mul(other: Tensor | number): Tensor;
    /** Elementwise quotient with broadcasting. */
    div(other: Tensor | number): Tensor;
    /** Matrix product (2-D, or batched 3-D). */
    matmul(other: Tensor): Tensor;
    /** The same data under another shape (-1 infers one dimension). */
    reshape(shape: readonly number[]): Tensor;
    /** Flattens dimensions startDim..endDim into one. */
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Transpose of a 2-D tensor. */
    t(): Tensor;
    /** Sum over `dim` (all dimensions when omitted). */
    sum(dim?: number | number[], keepdim?: boolean): Tensor;
    /** Mean over `dim` (all dimensions when omitted). */
    mean(dim?: number | number[], keepdim?: boolean): Tensor;
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

type Shorthand =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'matmul'
  | 'reshape'
  | 'flatten'
  | 't'
  | 'sum'
  | 'mean'
  | 'relu'
  | 'exp'
  | 'log'
  | 'neg'
  | 'pow'
  | 'abs'
  | 'clamp'
  | 'maximum'
  | 'minimum'
  | 'erf'
  | 'reciprocal';
const methods: ThisType<Tensor> & Pick<Tensor, Shorthand> = {
  add(other) {
    return add(this, other);
  },
  sub(other) {
    return sub(this, other);
  },
  mul(other) {
    return mul(this, other);
  },
  div(other) {
    return div(this, other);
  },
  matmul(other) {
    return matmul(this, other);
  },
  reshape(shape) {
    return reshape(this, shape);
  },
  flatten(startDim = 0, endDim = -1) {
    return flatten(this, startDim, endDim);
  },
  t() {
    return transpose(this);
  },
  sum(dim, keepdim = false) {
    return sum(this, dim, keepdim);
  },
  mean(dim, keepdim = false) {
    return mean(this, dim, keepdim);
  },
  relu() {
    return relu(this);
  },
  exp() {
    return exp(this);
  },
  log() {
    return log(this);
  },
  neg() {
    return neg(this);
  },
  pow(exponent) {
    return pow(this, exponent);
  },
  abs() {
    return abs(this);
  },
  clamp(min, max) {
    return clamp(this, min, max);
  },
  maximum(other) {
    return maximum(this, other);
  },
  minimum(other) {
    return minimum(this, other);
  },
  erf() {
    return erf(this);
  },
  reciprocal() {
    return reciprocal(this);
  },
};
// Not enumerable, like methods written in the class body.
for (const [name, value] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value, writable: true, configurable: true });
}
