// Reductions over any set of axes: sum, mean, max, min, and sumToShape (the backward of a broadcast).
//
// The input is viewed as kept and reduced dimension groups (adjacent dimensions of the same
// kind merge). Small reductions run one invocation per output ("serial"); larger ones one
// workgroup per output with a tree reduction, and a reduction with few outputs and many terms
// is split across workgroups into partials that a second dispatch combines. Where the
// innermost dimensions are reduced in runs of whole vec4s, the kernels read vec4s, and the tree
// kernel takes four terms a loop iteration.

import { Tensor, formatShape, sizeOf } from '@wgtorch/tensor';
import { kernelProfile } from '../profile.js';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { checkF32, flatGrid, flatId, vecBinding } from '../elementwise/launch.js';
import { fill, copy } from '../elementwise/elementwise.js';

/** The reductions of the reduce kernels. */
export type ReduceOp = 'sum' | 'max' | 'min';
const WG = 64;
const IDENT: Record<ReduceOp, string> = {
  sum: '0.0',
  max: 'bitcast<f32>(neg_inf_bits)',
  min: 'bitcast<f32>(pos_inf_bits)',
};
// Infinities read at run time: WGSL rejects an infinite constant expression. max and min keep a
// NaN, as PyTorch's do (WGSL leaves max() of a NaN to the implementation); NaN is tested on the bits.
const NEG_INF_DECL = `var<private> neg_inf_bits: u32 = 0xff800000u;
var<private> pos_inf_bits: u32 = 0x7f800000u;
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn nan_max(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, is_nan(a) || is_nan(b)); }
fn nan_min(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, is_nan(a) || is_nan(b)); }`;
const COMBINE: Record<ReduceOp, (a: string, b: string) => string> = {
  sum: (a, b) => `${a} + ${b}`,
  max: (a, b) => `nan_max(${a}, ${b})`,
  min: (a, b) => `nan_min(${a}, ${b})`,
};
/** One term of the reduction: an f32, or the four components of a vec4 folded to one. */
function term(op: ReduceOp, vec: boolean, v: string): string {
  if (!vec) return v;
  if (op === 'sum') return `dot(${v}, vec4f(1.0))`;
  const c = COMBINE[op];
  return c(c(`${v}.x`, `${v}.y`), c(`${v}.z`, `${v}.w`));
}

/** WGSL: the offset of index `v` over dimension groups (innermost last), sizes and strides as constants. */
function decode(groups: Group[], v: string): string {
  if (groups.length === 0) return 'return 0u;';
  let s = `var rem = ${v}; var off = 0u;`;
  for (let i = groups.length - 1; i >= 0; i--) {
    const { n, s: st } = groups[i];
    s += i > 0 ? ` off += (rem % ${n}u) * ${st}u; rem /= ${n}u;` : ` off += rem * ${st}u;`;
  }
  return `${s} return off;`;
}

const PARAMS = { O: 'u32', R: 'u32', S: 'u32', chunk: 'u32', scale: 'f32' } as const;
const bindings = (vec: boolean) =>
  ({ x: { type: vec ? 'vec4f' : 'f32' }, out: { type: 'f32', access: 'read_write' } }) as const;
const helpers = (kept: Group[], red: Group[]) => `${NEG_INF_DECL}
fn keptOffset(o: u32) -> u32 { ${decode(kept, 'o')} }
fn redOffset(r: u32) -> u32 { ${decode(red, 'r')} }`;

// Kernels are generated per reduction plan (group sizes and strides are constants, so the
// index decode is multiplies and shifts); O, R and the split stay uniforms. Four independent
// terms an iteration: a lavapipe loop iteration costs about what a load does.
const treeKernel = memoKernel((op: ReduceOp, kept: Group[], red: Group[], vec: boolean) => {
  return defineKernel({
    name: `reduce.${op}`,
    params: PARAMS,
    bindings: bindings(vec),
    helpers: `${helpers(kept, red)}\nvar<workgroup> sh: array<f32, ${WG}>;`,
    workgroupSize: WG,
    builtins: { wid: 'workgroup_id', nwg: 'num_workgroups', lid: 'local_invocation_index' },
    body: `  let w = wid.x + wid.y * nwg.x;
  let valid = w < params.O * params.S;
  let o = w / params.S;
  let start = (w % params.S) * params.chunk;
  let end = min(params.R, start + params.chunk);
  let base = keptOffset(o);
  var acc = ${IDENT[op]};
  if (valid) {
    var a1 = ${IDENT[op]}; var a2 = ${IDENT[op]}; var a3 = ${IDENT[op]};
    var r = start + lid;
    for (; r + ${3 * WG}u < end; r += ${4 * WG}u) {
      acc = ${COMBINE[op]('acc', term(op, vec, 'x[base + redOffset(r)]'))};
      a1 = ${COMBINE[op]('a1', term(op, vec, `x[base + redOffset(r + ${WG}u)]`))};
      a2 = ${COMBINE[op]('a2', term(op, vec, `x[base + redOffset(r + ${2 * WG}u)]`))};
      a3 = ${COMBINE[op]('a3', term(op, vec, `x[base + redOffset(r + ${3 * WG}u)]`))};
    }
    for (; r < end; r += ${WG}u) { acc = ${COMBINE[op]('acc', term(op, vec, 'x[base + redOffset(r)]'))}; }
    acc = ${COMBINE[op](COMBINE[op]('acc', 'a1'), COMBINE[op]('a2', 'a3'))};
  }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { sh[lid] = ${COMBINE[op]('sh[lid]', 'sh[lid + s]')}; }
    workgroupBarrier();
  }
  if (lid == 0u && valid) { out[w] = sh[0]${op === 'sum' ? ' * params.scale' : ''}; }`,
  });
});

const serialKernel = memoKernel((op: ReduceOp, kept: Group[], red: Group[], vec: boolean) => {
  return defineKernel({
    name: `reduce.${op}.serial`,
    params: PARAMS,
    bindings: bindings(vec),
    helpers: helpers(kept, red),
    workgroupSize: 64,
    body: `  let o = ${flatId(64)};
  if (o >= params.O) { return; }
  let base = keptOffset(o);
  var acc = ${IDENT[op]};
  for (var r = 0u; r < params.R; r++) { acc = ${COMBINE[op]('acc', term(op, vec, 'x[base + redOffset(r)]'))}; }
  out[o] = acc${op === 'sum' ? ' * params.scale' : ''};`,
  });
});

/** Sorted, de-duplicated, non-negative axes; throws on out-of-range ones. */
export function normalizeAxes(kernel: string, shape: readonly number[], axes: readonly number[]): number[] {
  const r = shape.length;
  const out = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -r || a >= r) {
      throw new KernelArgumentError(
        kernel,
        `axis ${a} is out of range for x ${formatShape(shape)} (rank ${r}); use -${r}..${r - 1}.`,
      );
    }
    out.add(a < 0 ? a + r : a);
  }
  return [...out].sort((a, b) => a - b);
}

export function reducedShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

export interface Group {
  n: number;
  s: number;
}

/** Kept and reduced dimension groups of a contiguous tensor (outermost first). */
function plan(shape: readonly number[], axes: readonly number[]): { kept: Group[]; red: Group[] } {
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i];
  }
  const kept: Group[] = [];
  const red: Group[] = [];
  let lastKind: 'k' | 'r' | undefined;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const kind = axes.includes(i) ? 'r' : 'k';
    const list = kind === 'r' ? red : kept;
    if (kind === lastKind) {
      const g = list[list.length - 1];
      g.n *= shape[i];
      g.s = strides[i];
    } else list.push({ n: shape[i], s: strides[i] });
    lastKind = kind;
  }
  return { kept, red };
}

/**
 * The plan in vec4 units where the innermost dimension group is reduced, contiguous and a
 * multiple of 4 long: every other stride is then a multiple of 4 too. Else undefined.
 */
function vecPlan(kept: Group[], red: Group[]): { kept: Group[]; red: Group[] } | undefined {
  const inner = red[red.length - 1];
  if (!inner || inner.s !== 1 || inner.n % 4 !== 0) return undefined;
  return {
    kept: kept.map((g) => ({ n: g.n, s: g.s / 4 })),
    red: red.map((g) => (g === inner ? { n: g.n / 4, s: 1 } : { n: g.n, s: g.s / 4 })),
  };
}

function treeLaunch(
  op: ReduceOp,
  x: Tensor,
  out: Tensor,
  O: number,
  R: number,
  S: number,
  scale: number,
  kept: Group[],
  red: Group[],
  vec = false,
): void {
  const chunk = Math.ceil(R / S);
  treeKernel(op, kept, red, vec).launch(
    { x: vec ? vecBinding(x) : x, out },
    { O, R, S, chunk, scale },
    flatGrid(O * S, 1).groups,
  );
}

export function reduce(
  op: ReduceOp,
  kernelName: string,
  x: Tensor,
  axesIn: readonly number[],
  keepdim: boolean,
  mean: boolean,
): Tensor {
  checkF32(kernelName, 'x', x);
  const axes = normalizeAxes(kernelName, x.shape, axesIn);
  const outShape = reducedShape(x.shape, axes, keepdim);
  const O = sizeOf(outShape);
  const R = axes.reduce((a, i) => a * x.shape[i], 1);
  if (O === 0) return Tensor.empty(outShape, 'f32', kernelName);
  if (R === 0) return fill(outShape, op === 'max' ? -Infinity : op === 'min' ? Infinity : mean ? NaN : 0);
  if (axes.length === 0 || R === 1) return reshaped(copy(x), outShape);
  const scalarPlan = plan(x.shape, axes);
  if (scalarPlan.kept.length > 3 || scalarPlan.red.length > 3)
    throw new KernelArgumentError(kernelName, `x ${formatShape(x.shape)} has too many alternating axes.`);
  const scale = mean ? 1 / R : 1;
  const out = Tensor.empty(outShape, 'f32', kernelName);
  const vp = vecPlan(scalarPlan.kept, scalarPlan.red);
  const vec = vp !== undefined;
  const { kept, red } = vp ?? scalarPlan;
  // Terms a kernel reads: vec4s where it reads them.
  const T = vec ? R / 4 : R;
  const xb = vec ? vecBinding(x) : x;
  if (R <= 32 || (O >= 4096 && R <= 1024)) {
    serialKernel(op, kept, red, vec).launch({ x: xb, out }, { O, R: T, S: 1, chunk: T, scale }, flatGrid(O, 64).groups);
    return out;
  }
  const S = kernelProfile().reduceSplits(O, R);
  if (S === 1) {
    treeLaunch(op, x, out, O, T, 1, scale, kept, red, vec);
    return out;
  }
  const S2 = Math.ceil(T / Math.ceil(T / S)); // no empty splits
  const partial = Tensor.empty([O, S2], 'f32', `${kernelName}.partial`);
  treeLaunch(op, x, partial, O, T, S2, 1, kept, red, vec);
  treeLaunch(op, partial, out, O, S2, 1, scale, [{ n: O, s: S2 }], [{ n: S2, s: 1 }]);
  partial.dispose();
  return out;
}

export function sum(x: Tensor, axes: readonly number[], keepdim = false): Tensor {
  return reduce('sum', 'sum', x, axes, keepdim, false);
}

export function mean(x: Tensor, axes: readonly number[], keepdim = false): Tensor {
  return reduce('sum', 'mean', x, axes, keepdim, true);
}

export function max(x: Tensor, axes: readonly number[], keepdim = false): Tensor {
  return reduce('max', 'max', x, axes, keepdim, false);
}

export function min(x: Tensor, axes: readonly number[], keepdim = false): Tensor {
  return reduce('min', 'min', x, axes, keepdim, false);
}

/** The axes of `from` that sum away to reach the broadcast-compatible `to`. */
export function sumToShapeAxes(kernel: string, from: readonly number[], to: readonly number[]): number[] {
  const lead = from.length - to.length;
  const bad = () =>
    new KernelArgumentError(
      kernel,
      `x ${formatShape(from)} cannot be summed to ${formatShape(to)}: ` +
        'the target must broadcast to x (each trailing dimension equal or 1).',
    );
  if (lead < 0) throw bad();
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
    else if (to[i - lead] !== from[i]) throw bad();
  }
  return axes;
}

/** Sums the broadcast dimensions of x back to `shape` (the backward of broadcasting). */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  checkF32('sumToShape', 'x', x);
  const axes = sumToShapeAxes('sumToShape', x.shape, shape);
  return reshaped(reduce('sum', 'sumToShape', x, axes, false, false), shape);
}

/** `t` viewed as `shape`; `t` itself is handed over (disposed when a new view is made). */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(t.shape, shape)) return t;
  const v = t.reshape(shape);
  t.dispose();
  return v;
}
