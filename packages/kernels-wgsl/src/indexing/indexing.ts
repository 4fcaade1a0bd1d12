// Indexing launchers: gather and indexSelect with their backward, where, maskedFill and the
// comparisons. Indices are i32 device tensors.
//
// gather and indexSelect are one kernel: the output's coordinates pick the index element
// through its own strides (0 along the dims an indexSelect index does not have) and every dim of
// x but `dim`. Their backward is a scatter-add, written without float atomics (WGSL has none) as
// a gather: each element of dx loops over the index elements that could point at it (the
// out.shape[dim] of its line) and sums the dy values whose index equals its coordinate, in
// ascending order. That costs out.shape[dim] reads per element of dx (O(n k)) but is
// deterministic: the same sum, in the same order, on every run.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { defineKernel, memoKernel, type ParamType } from '../common/kernel.js';
import { KernelArgumentError, checkDtype } from '../common/errors.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import { broadcastMap, broadcastShapes, fill, runMap } from '../elementwise/elementwise.js';
import { MAX_RANK } from './views.js';

const WG = 256;

function dimParams(prefix: string, values: readonly number[]): Record<string, number> {
  const p: Record<string, number> = {};
  values.forEach((v, i) => (p[`${prefix}${i}`] = v));
  return p;
}

function fields(names: string[], rank: number, base: Record<string, ParamType>): Record<string, ParamType> {
  const f = { ...base };
  for (const n of names) for (let d = 0; d < rank; d++) f[`${n}${d}`] = 'u32';
  return f;
}

/** out[c] = x[c with c_dim = index[sum c_d * is_d]]; NaN where the index is out of range. */
const pickKernel = memoKernel((rank: number, dim: number) => {
  let decode = '';
  for (let d = rank - 1; d >= 0; d--) {
    decode += `  { let q = ${d > 0 ? `r % params.d${d}` : 'r'}; r = r / params.d${d}; io += q * params.i${d};`;
    decode += d === dim ? ' }\n' : ` xo += q * params.x${d}; }\n`;
  }
  return defineKernel({
    name: `indexing.gather${rank}d${dim}`,
    params: fields(['d', 'x', 'i'], rank, { n: 'u32', size: 'u32', bad: 'f32' }),
    bindings: { x: { type: 'f32' }, index: { type: 'i32' }, out: { type: 'f32', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  var r = min(i, params.n - 1u);
  var xo = 0u;
  var io = 0u;
${decode}  let k = index[io];
  let ok = k >= 0 && u32(k) < params.size;
  let v = x[xo + select(0u, u32(k), ok) * params.x${dim}];
  if (i < params.n) { out[i] = select(params.bad, v, ok); }`,
  });
});

/** dx[c] = sum over k < K of dy[c with c_dim = k] where index[c with c_dim = k] == c_dim (see above). */
const pickBackwardKernel = memoKernel((rank: number, dim: number) => {
  let decode = '';
  for (let d = rank - 1; d >= 0; d--) {
    decode += `  { let q = ${d > 0 ? `r % params.d${d}` : 'r'}; r = r / params.d${d};`;
    decode +=
      d === dim
        ? ' c = q; }\n'
        : ` inside = inside && q < params.o${d}; yo += q * params.y${d}; io += q * params.i${d}; }\n`;
  }
  return defineKernel({
    name: `indexing.gatherBackward${rank}d${dim}`,
    params: fields(['d', 'o', 'y', 'i'], rank, { n: 'u32', k: 'u32' }),
    bindings: { dy: { type: 'f32' }, index: { type: 'i32' }, dx: { type: 'f32', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  var r = min(i, params.n - 1u);
  var yo = 0u;
  var io = 0u;
  var c = 0u;
  var inside = true;
${decode}  var acc = 0.0;
  let kEnd = select(0u, params.k, inside);
  for (var k = 0u; k < kEnd; k++) {
    if (index[io + k * params.i${dim}] == i32(c)) { acc += dy[yo + k * params.y${dim}]; }
  }
  if (i < params.n) { dx[i] = acc; }`,
  });
});

function checkIndexArgs(kernel: string, x: { shape: readonly number[] }, dim: number, index: Tensor): void {
  const r = x.shape.length;
  if (!Number.isInteger(dim) || dim < 0 || dim >= r)
    throw new KernelArgumentError(kernel, `dim ${dim} is out of range for x ${formatShape(x.shape)}.`);
  if (r > MAX_RANK)
    throw new KernelArgumentError(kernel, `x ${formatShape(x.shape)} has more than ${MAX_RANK} dims; reshape first.`);
  checkDtype(kernel, 'index', index, 'i32');
}

/** The shape check shared with the reference: why `index` cannot gather from `xShape`, or ''. */
export function checkGatherShapes(xShape: readonly number[], dim: number, indexShape: readonly number[]): string {
  const ok = indexShape.length === xShape.length && indexShape.every((d, i) => i === dim || d <= xShape[i]);
  return ok
    ? ''
    : `index ${formatShape(indexShape)} must have the rank of x ${formatShape(xShape)} and no dim but ${dim} larger.`;
}

function launchPick(kernel: string, x: Tensor, dim: number, index: Tensor, shape: number[], is: number[]): Tensor {
  const out = Tensor.empty(shape, 'f32', kernel);
  if (out.size === 0) return out;
  const p = { n: out.size, size: x.shape[dim], bad: NaN, ...dimParams('d', shape), ...dimParams('i', is) };
  Object.assign(p, dimParams('x', x.strides));
  pickKernel(shape.length, dim).launch({ x, index, out }, p, flatGrid(out.size, WG).groups);
  return out;
}

function launchPickBackward(
  kernel: string,
  dy: Tensor,
  index: Tensor,
  dim: number,
  xShape: readonly number[],
  is: number[],
): Tensor {
  const dx = Tensor.empty(xShape, 'f32', kernel);
  if (dx.size === 0) return dx;
  const p = { n: dx.size, k: dy.shape[dim], ...dimParams('d', xShape), ...dimParams('o', dy.shape) };
  Object.assign(p, dimParams('y', dy.strides), dimParams('i', is));
  pickBackwardKernel(xShape.length, dim).launch({ dy, index, dx }, p, flatGrid(dx.size, WG).groups);
  return dx;
}

/**
 * out[c] = x[c with c_dim = index[c]] (torch.gather): index (i32) has x's rank and no dim but
 * `dim` larger than x's; the output has index's shape. An index outside [0, x.shape[dim]) gives NaN.
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkF32('gather', 'x', x);
  checkIndexArgs('gather', x, dim, index);
  const bad = checkGatherShapes(x.shape, dim, index.shape);
  if (bad) throw new KernelArgumentError('gather', bad);
  return launchPick('gather', x, dim, index, [...index.shape], index.strides);
}

/** dx of gather: zeros of xShape with dy[c] added at c with c_dim = index[c] (deterministic; see above). */
export function gatherBackward(dy: Tensor, index: Tensor, dim: number, xShape: readonly number[]): Tensor {
  checkF32('gatherBackward', 'dy', dy);
  checkIndexArgs('gatherBackward', { shape: xShape }, dim, index);
  const bad = checkGatherShapes(xShape, dim, index.shape) || sameOrWhy(dy.shape, index.shape, 'dy', 'index');
  if (bad) throw new KernelArgumentError('gatherBackward', bad);
  return launchPickBackward('gatherBackward', dy, index, dim, xShape, index.strides);
}

function sameOrWhy(a: readonly number[], b: readonly number[], na: string, nb: string): string {
  const same = a.length === b.length && a.every((d, i) => d === b[i]);
  return same ? '' : `${na} ${formatShape(a)} and ${nb} ${formatShape(b)} must have the same shape.`;
}

/** Index strides of an indexSelect: the 1-D index read along `dim` only. */
function selectStrides(rank: number, dim: number): number[] {
  return Array.from({ length: rank }, (_, d) => (d === dim ? 1 : 0));
}

/** x's slices index[0], index[1], ... along `dim` (torch.index_select); index is 1-D i32. NaN out of range. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkF32('indexSelect', 'x', x);
  checkIndexArgs('indexSelect', x, dim, index);
  if (index.shape.length !== 1)
    throw new KernelArgumentError('indexSelect', `index must be 1-D, got ${formatShape(index.shape)}; flatten it.`);
  const shape = [...x.shape];
  shape[dim] = index.shape[0];
  return launchPick('indexSelect', x, dim, index, shape, selectStrides(shape.length, dim));
}

/** dx of indexSelect: zeros of xShape with dy's slice k added at index[k] along dim (deterministic). */
export function indexSelectBackward(dy: Tensor, index: Tensor, dim: number, xShape: readonly number[]): Tensor {
  checkF32('indexSelectBackward', 'dy', dy);
  checkIndexArgs('indexSelectBackward', { shape: xShape }, dim, index);
  const expect = [...xShape];
  expect[dim] = index.shape[0];
  const bad = index.shape.length !== 1 ? 'index must be 1-D.' : sameOrWhy(dy.shape, expect, 'dy', 'the output');
  if (bad) throw new KernelArgumentError('indexSelectBackward', bad);
  return launchPickBackward('indexSelectBackward', dy, index, dim, xShape, selectStrides(xShape.length, dim));
}

// ---- masks -----------------------------------------------------------------------------------

/** a where cond is nonzero (NaN counts as nonzero), else b; all three broadcast as PyTorch does. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return broadcastMap('where', 'select(c, b, !(a == T(0.0)))', [cond, a, b], ['cond', 'a', 'b']);
}

/** x with `value` where mask (broadcast to x's shape) is nonzero. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  checkF32('maskedFill', 'x', x);
  checkF32('maskedFill', 'mask', mask);
  const shape = broadcastShapes(x.shape, mask.shape);
  if (!shape || shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i])) {
    throw new KernelArgumentError(
      'maskedFill',
      `mask ${formatShape(mask.shape)} must broadcast to x ${formatShape(x.shape)} (trailing dims equal or 1).`,
    );
  }
  const v = fill([], value);
  try {
    return broadcastMap('maskedFill', 'select(a, c, !(b == T(0.0)))', [x, mask, v], ['x', 'mask', 'value']);
  } finally {
    v.dispose();
  }
}

/** The comparisons of compare() and compareScalar(). */
export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

// IEEE: every comparison with a NaN is false but ne, which is true. The NaN test is on the bits.
const COMPARE: Record<CompareOp, (ordered: string, a: string, b: string) => string> = {
  eq: (ok, a, b) => `${ok} & (${a} == ${b})`,
  ne: (ok, a, b) => `!(${ok} & (${a} == ${b}))`,
  lt: (ok, a, b) => `${ok} & (${a} < ${b})`,
  le: (ok, a, b) => `${ok} & (${a} <= ${b})`,
  gt: (ok, a, b) => `${ok} & (${a} > ${b})`,
  ge: (ok, a, b) => `${ok} & (${a} >= ${b})`,
};

function compareExpr(op: CompareOp, other: string): string {
  const test = COMPARE[op];
  if (!test) throw new KernelArgumentError('compare', `unknown op '${String(op)}'; use one of eq, ne, lt, le, gt, ge.`);
  const ordered = `!(ew_isnan(a) | ew_isnan(${other}))`;
  return `select(T(0.0), T(1.0), ${test(ordered, 'a', other)})`;
}

/** 1 where `a op b` holds, else 0 (float32 masks), broadcasting; NaN compares false (ne: true). */
export function compare(op: CompareOp, a: Tensor, b: Tensor): Tensor {
  return broadcastMap(`compare.${op}`, compareExpr(op, 'b'), [a, b]);
}

/** 1 where `x op s` holds, else 0; NaN compares false (ne: true). */
export function compareScalar(op: CompareOp, x: Tensor, s: number): Tensor {
  checkF32(`compareScalar.${op}`, 'x', x);
  return runMap(`compareScalar.${op}`, compareExpr(op, 'T(params.s0)'), [x], x.shape, s);
}
