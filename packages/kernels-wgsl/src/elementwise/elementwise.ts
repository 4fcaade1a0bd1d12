// Elementwise launchers: relu, broadcasting binary ops, scalar ops, unary math, fill, copy,
// permute. Same-shape work takes the vec4 map kernel; broadcasting and permutes take the
// strided kernel after merging dimensions that are contiguous in every operand.

import { Tensor, formatShape, type BufferRange } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { checkF32, flatGrid, reluGradWgsl, reluWgsl, vecBinding } from './launch.js';
import { INPUTS, MAP_ITEMS, MAP_WG, MAX_RANK, broadcastVecKernel, mapKernel, stridedKernel } from './wgsl.js';

/** The buffers of an elementwise kernel by binding name: in_a, in_b, ..., out. */
function io(inputs: (Tensor | BufferRange)[], out: Tensor | BufferRange): Record<string, Tensor | BufferRange> {
  const b: Record<string, Tensor | BufferRange> = { out };
  inputs.forEach((t, i) => (b[INPUTS[i]] = t));
  return b;
}

/** Runs the map kernel over same-shape inputs into a new tensor of `shape`. */
export function runMap(name: string, expr: string, inputs: Tensor[], shape: readonly number[], s0 = 0, s1 = 0): Tensor {
  const out = Tensor.empty(shape, 'f32', name);
  const n = out.size;
  if (n === 0) return out;
  const vec = n % 4 === 0;
  const units = vec ? n / 4 : n;
  const { groups, total } = flatGrid(Math.ceil(units / MAP_ITEMS), MAP_WG);
  const bind = vec ? vecBinding : (t: Tensor) => t.binding();
  mapKernel(name, expr, inputs.length, vec).launch(
    io(inputs.map(bind), bind(out)),
    { n: units, stride: total, s0, s1 },
    groups,
  );
  return out;
}

function checkSame(kernel: string, names: string[], ts: Tensor[]): void {
  ts.forEach((t, i) => checkF32(kernel, names[i], t));
  for (let i = 1; i < ts.length; i++) {
    if (!sameShape(ts[0].shape, ts[i].shape)) {
      throw new KernelArgumentError(
        kernel,
        `${names[0]} ${formatShape(ts[0].shape)} and ${names[i]} ${formatShape(ts[i].shape)} ` +
          'must have the same shape; ' +
          (kernel === 'addRelu' ? 'use add() then relu() to broadcast.' : 'reshape or expand one of them.'),
      );
    }
  }
}

/** max(x, 0); NaN stays NaN (as in PyTorch). */
export function relu(x: Tensor): Tensor {
  checkSame('relu', ['x'], [x]);
  return runMap('relu', reluWgsl('a', 'T'), [x], x.shape);
}

/** dx = 0 where the relu output y <= 0, else dy (PyTorch's threshold_backward: a NaN y passes dy). */
export function reluBackward(dy: Tensor, y: Tensor): Tensor {
  checkSame('reluBackward', ['dy', 'y'], [dy, y]);
  return runMap('reluBackward', reluGradWgsl('a', 'b', 'T'), [dy, y], dy.shape);
}

/** relu(a + b), the residual join (same shapes); NaN stays NaN. */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  checkSame('addRelu', ['a', 'b'], [a, b]);
  return runMap('addRelu', reluWgsl('(a + b)', 'T'), [a, b], a.shape);
}

export function scale(x: Tensor, s: number): Tensor {
  checkSame('scale', ['x'], [x]);
  return runMap('scale', 'a * params.s0', [x], x.shape, s);
}

export function addScalar(x: Tensor, s: number): Tensor {
  checkSame('addScalar', ['x'], [x]);
  return runMap('addScalar', 'a + params.s0', [x], x.shape, s);
}

/** y + alpha * x, as a new tensor. */
export function axpy(alpha: number, x: Tensor, y: Tensor): Tensor {
  checkSame('axpy', ['x', 'y'], [x, y]);
  return runMap('axpy', 'b + params.s0 * a', [x, y], x.shape, alpha);
}

export function fill(shape: readonly number[], value: number): Tensor {
  return runMap('fill', 'T(params.s0)', [], shape, value);
}

export function copy(x: Tensor): Tensor {
  checkSame('copy', ['x'], [x]);
  return runMap('copy', 'a', [x], x.shape);
}

/** The elementwise functions of unary() (and of autograd's exp, log, sqrt, tanh, gelu, ...). */
export type UnaryOp =
  | 'exp'
  | 'log'
  | 'neg'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'square'
  | 'reciprocal'
  | 'sigmoid'
  | 'tanh'
  | 'erf'
  | 'gelu'
  | 'geluTanh'
  | 'silu';

// gelu, geluTanh and silu are PyTorch's formulas (so -inf gives NaN as there).
const UNARY: Record<UnaryOp, string> = {
  exp: 'exp(a)',
  log: 'log(a)',
  neg: '-a',
  sqrt: 'sqrt(a)',
  rsqrt: 'inverseSqrt(a)',
  abs: 'abs(a)',
  square: 'a * a',
  reciprocal: 'T(1.0) / a',
  sigmoid: 'T(1.0) / (T(1.0) + exp(-a))',
  tanh: 'ew_tanh(a)',
  erf: 'ew_erf(a)',
  gelu: 'a * T(0.5) * (T(1.0) + ew_erf(a * T(0.7071067811865476)))',
  geluTanh: 'T(0.5) * a * ew_onePlusTanh(T(0.7978845608028654) * (a + T(0.044715) * (a * a * a)))',
  silu: 'a / (T(1.0) + exp(-a))',
};

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const expr = UNARY[op];
  if (!expr) {
    throw new KernelArgumentError('unary', `unknown op '${String(op)}'; use one of ${Object.keys(UNARY).join(', ')}.`);
  }
  checkSame(`unary.${op}`, ['x'], [x]);
  return runMap(`unary.${op}`, expr, [x], x.shape);
}

// ---- broadcasting binary ops -------------------------------------------------------------

/** NumPy broadcast of two shapes, or undefined when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` aligned to `out` (right-aligned), 0 on broadcast dimensions. */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const st = new Array<number>(out.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = out.length - shape.length + i;
    st[j] = shape[i] === 1 ? 0 : acc;
    acc *= shape[i];
  }
  return st;
}

/**
 * Drops size-1 dimensions and merges a dimension into the next inner one when every operand
 * is contiguous across the pair. Returns dims and per-operand strides (outermost first).
 */
export function mergeDims(dims: readonly number[], strides: number[][]): { dims: number[]; strides: number[][] } {
  const d: number[] = [];
  const s: number[][] = strides.map(() => []);
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && strides.every((st, k) => s[k][last] === st[i] * dims[i])) {
      d[last] *= dims[i];
      strides.forEach((st, k) => (s[k][last] = st[i]));
    } else {
      d.push(dims[i]);
      strides.forEach((st, k) => s[k].push(st[i]));
    }
  }
  if (d.length === 0) {
    d.push(1);
    s.forEach((x) => x.push(0));
  }
  return { dims: d, strides: s };
}

/** Runs the strided kernel: output of `outShape`, input k read at sum(coord * strides[k]). */
export function runStrided(
  name: string,
  expr: string,
  inputs: Tensor[],
  outShape: readonly number[],
  strides: number[][],
  s0 = 0,
): Tensor {
  const out = Tensor.empty(outShape, 'f32', name);
  if (out.size === 0) return out;
  const m = mergeDims(outShape, strides);
  if (m.dims.length > MAX_RANK) {
    throw new KernelArgumentError(
      name,
      `output ${formatShape(outShape)} needs ${m.dims.length} dimensions after merging; ` +
        `at most ${MAX_RANK} are supported.`,
    );
  }
  const rank = m.dims.length;
  const inner = m.dims[rank - 1];
  const vecOk =
    inner % 4 === 0 &&
    m.strides.every((st) => st[rank - 1] === 0 || (st[rank - 1] === 1 && st.slice(0, -1).every((v) => v % 4 === 0)));
  if (vecOk) {
    const bind = inputs.map((t, i) => (m.strides[i][rank - 1] === 1 ? vecBinding(t) : t.binding()));
    broadcastVecKernel(name, expr, m.dims, m.strides).launch(
      io(bind, vecBinding(out)),
      { n: out.size / 4 },
      flatGrid(out.size / 4, MAP_WG).groups,
    );
    return out;
  }
  const p: Record<string, number> = { n: out.size, s0, s1: 0 };
  m.dims.forEach((d, i) => (p[`d${i}`] = d));
  m.strides.forEach((st, k) => st.forEach((v, i) => (p[`${INPUTS[k].slice(3)}${i}`] = v)));
  stridedKernel(name, expr, inputs.length, rank).launch(io(inputs, out), p, flatGrid(out.size, MAP_WG).groups);
  return out;
}

/**
 * out = expr(a, b, c) over inputs broadcast as PyTorch does (the map kernel when all shapes are
 * equal, else the strided one); `expr` as mapKernel's.
 */
export function broadcastMap(name: string, expr: string, inputs: Tensor[], names = ['a', 'b', 'c']): Tensor {
  inputs.forEach((t, i) => checkF32(name, names[i], t));
  const shapes = () => inputs.map((t, i) => `${names[i]} ${formatShape(t.shape)}`).join(', ');
  if (inputs.some((t) => t.shape.length > MAX_RANK)) {
    throw new KernelArgumentError(
      name,
      `${shapes()}: more than ${MAX_RANK} dimensions; reshape to at most ${MAX_RANK}.`,
    );
  }
  if (inputs.every((t) => sameShape(t.shape, inputs[0].shape))) return runMap(name, expr, inputs, inputs[0].shape);
  let out: number[] | undefined = [...inputs[0].shape];
  for (const t of inputs.slice(1)) out = out && broadcastShapes(out, t.shape);
  if (!out) {
    const what =
      inputs.length === 2 ? `shapes ${formatShape(inputs[0].shape)} and ${formatShape(inputs[1].shape)}` : shapes();
    throw new KernelArgumentError(
      name,
      `${what} do not broadcast (each trailing dimension must match or be 1); reshape one of them.`,
    );
  }
  const o = out;
  return runStrided(
    name,
    expr,
    inputs,
    o,
    inputs.map((t) => broadcastStrides(t.shape, o)),
  );
}

const binary = (name: string, op: string, a: Tensor, b: Tensor): Tensor => broadcastMap(name, `a ${op} b`, [a, b]);

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', '+', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', '-', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', '*', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', '/', a, b);

// ---- permutes ----------------------------------------------------------------------------

export function checkPerm(kernel: string, rank: number, dims: readonly number[]): void {
  const seen = new Set(dims);
  if (dims.length !== rank || seen.size !== rank || dims.some((d) => !Number.isInteger(d) || d < 0 || d >= rank)) {
    throw new KernelArgumentError(
      kernel,
      `dims [${dims.join(', ')}] is not a permutation of 0..${rank - 1} for a rank-${rank} tensor.`,
    );
  }
}

/** out.shape[i] = x.shape[dims[i]] (general, rank <= 6). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkF32('permute', 'x', x);
  checkPerm('permute', x.shape.length, dims);
  if (x.shape.length > MAX_RANK)
    throw new KernelArgumentError('permute', `x ${formatShape(x.shape)} has more than ${MAX_RANK} dimensions.`);
  const st = x.strides;
  const outShape = dims.map((d) => x.shape[d]);
  return runStrided('permute', 'a', [x], outShape, [dims.map((d) => st[d])]);
}

/** [M, N] -> [N, M]. */
export function transpose2d(x: Tensor): Tensor {
  if (x.shape.length !== 2)
    throw new KernelArgumentError(
      'transpose2d',
      `x must be 2-D [M, N], got ${formatShape(x.shape)}; use permute() for other ranks.`,
    );
  return permute(x, [1, 0]);
}
