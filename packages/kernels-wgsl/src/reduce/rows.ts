// Reductions and normalisations along one dimension (or a run of adjacent ones): max/min with
// their indices, logsumexp, variance and standard deviation, prod, and softmax / logSoftmax
// over any dim, with the backward kernels that need the row structure.
//
// The input is viewed as (outer, R, inner): R the reduced extent, inner the elements after it.
// One invocation owns one (outer, inner) row and walks its R terms with stride `inner`, so
// neighbouring invocations read neighbouring addresses when inner > 1; long rows, when there
// are few, take a workgroup each (strided terms, combined in workgroup memory). Axes that are
// not adjacent are permuted to the end first (one copy). softmax over the last dim stays on the loss
// family's kernels (loss/), which the autograd calls for that case.

import { Tensor, formatShape, sizeOf } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { defineKernel, memoKernel, NAN_BITS_WGSL } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import { grid1d } from '../common/grid.js';
import { fill, permute } from '../elementwise/elementwise.js';
import { normalizeAxes, reducedShape } from './reduce.js';

const WG = 64;

/** The (outer, R, inner) view of `shape` reduced over the adjacent `axes` (sorted, non-negative). */
export interface Rows {
  outer: number;
  R: number;
  inner: number;
}

export function rowsOf(shape: readonly number[], axes: readonly number[]): Rows {
  const lo = axes[0] ?? shape.length;
  const hi = axes.length ? axes[axes.length - 1] + 1 : shape.length;
  return { outer: sizeOf(shape.slice(0, lo)), R: sizeOf(shape.slice(lo, hi)), inner: sizeOf(shape.slice(hi)) };
}

/** Whether the axes form one run of adjacent dims (size-1 dims in between do not matter). */
export function adjacentAxes(shape: readonly number[], axes: readonly number[]): boolean {
  for (let d = axes[0]; d < axes[axes.length - 1]; d++) if (!axes.includes(d) && shape[d] !== 1) return false;
  return true;
}

/** The permutation putting the kept dims first (in order) and the reduced ones last. */
export function axesLast(rank: number, axes: readonly number[]): number[] {
  return [...[...Array(rank).keys()].filter((d) => !axes.includes(d)), ...axes];
}

/** A dim made non-negative; throws naming the kernel when out of range. */
export function normalizeDim(kernel: string, shape: readonly number[], dim: number): number {
  return normalizeAxes(kernel, shape.length === 0 ? [1] : shape, [dim])[0];
}

// WGSL: NaN tested on the bits (an `x != x` test may be folded away); NaN and -inf read at run
// time (WGSL rejects them as constant expressions). f_max ignores NaN (the ops that use it let a
// NaN through their sums).
const SPECIALS = `${NAN_BITS_WGSL}
var<private> neg_inf_bits: u32 = 0xff800000u;
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) == 0x7f800000u; }
fn f_add(a: f32, b: f32) -> f32 { return a + b; }
fn f_mul(a: f32, b: f32) -> f32 { return a * b; }
fn f_max(a: f32, b: f32) -> f32 { return select(a, b, b > a); }`;

/**
 * The WGSL building blocks of a row kernel, serial (one invocation per row) or wide (a workgroup
 * of WG invocations per row, for long rows when there are few).
 */
interface RowWgsl {
  wide: boolean;
  /** A loop over this invocation's terms r of the row; `i` is term r's offset in x. */
  each(body: string): string;
  /** Combines the f32 var `v` over the row's invocations with `f` (f32, f32) -> f32; all get the result. */
  all(v: string, f: string): string;
  /** A statement run once per row. */
  once(stmt: string): string;
}

function rowWgsl(wide: boolean): RowWgsl {
  return {
    wide,
    each: (body) =>
      `for (var r = ${wide ? 'lid' : '0u'}; r < params.R; r += ${wide ? WG : 1}u) {
    let i = base + r * params.inner;
    ${body}
  }`,
    all: (v, f) =>
      wide
        ? `sh[lid] = ${v};
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h >>= 1u) {
    if (lid < h) { sh[lid] = ${f}(sh[lid], sh[lid + h]); }
    workgroupBarrier();
  }
  ${v} = sh[0];
  workgroupBarrier();`
        : '',
    once: (stmt) => (wide ? `if (lid == 0u) { ${stmt} }` : stmt),
  };
}

type Bindings = Record<string, { type: string; access?: 'read_write' }>;

/** A row kernel: row `o` starts at `base` and steps by params.inner; body from the building blocks. */
function rowKernel(name: string, wide: boolean, bindings: Bindings, body: (w: RowWgsl) => string, helpers = '') {
  return defineKernel({
    name: `reduce.${name}${wide ? '.wide' : ''}`,
    params: { O: 'u32', R: 'u32', inner: 'u32', c: 'f32' },
    bindings,
    helpers: `${SPECIALS}${wide ? `\nvar<workgroup> sh: array<f32, ${WG}>;` : ''}\n${helpers}`,
    workgroupSize: WG,
    builtins: wide
      ? { lid: 'local_invocation_index', wid: 'workgroup_id', nwg: 'num_workgroups' }
      : { gid: 'global_invocation_id', nwg: 'num_workgroups' },
    body: `  let o = ${wide ? 'wid.x + wid.y * nwg.x' : flatId(WG)};
  if (o >= params.O) { return; }
  let base = (o / params.inner) * params.R * params.inner + o % params.inner;
  ${body(rowWgsl(wide))}`,
  });
}

const IN = { x: { type: 'f32' } } as const;
const OUT = { type: 'f32', access: 'read_write' } as const;
const NONE = '0xffffffffu';

const extremeKernel = memoKernel((op: 'max' | 'min', wide: boolean) =>
  rowKernel(
    op + 'Dim',
    wide,
    { ...IN, values: OUT, indices: { type: 'i32', access: 'read_write' } },
    // The first extreme, or the first NaN (PyTorch propagates it, with its index); better():
    // whether term (v, i) beats (u, j): a NaN beats a number, a greater (smaller) value wins, ties
    // go to the first.
    (w) => `
  var best = 0.0; var bi = ${NONE};
  ${w.each(`let v = x[i]; if (bi == ${NONE} || better(v, r, best, bi)) { best = v; bi = r; }`)}
  ${
    w.wide
      ? `shv[lid] = best; shi[lid] = bi;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h >>= 1u) {
    if (lid < h && shi[lid + h] != ${NONE} &&
        (shi[lid] == ${NONE} || better(shv[lid + h], shi[lid + h], shv[lid], shi[lid]))) {
      shv[lid] = shv[lid + h]; shi[lid] = shi[lid + h];
    }
    workgroupBarrier();
  }
  best = shv[0]; bi = shi[0];`
      : ''
  }
  ${w.once('values[o] = best; indices[o] = i32(bi);')}`,
    `${wide ? `var<workgroup> shv: array<f32, ${WG}>;\nvar<workgroup> shi: array<u32, ${WG}>;` : ''}
fn better(v: f32, i: u32, u: f32, j: u32) -> bool {
  if (is_nan(v) || is_nan(u)) { return is_nan(v) && (!is_nan(u) || i < j); }
  return v ${op === 'max' ? '>' : '<'} u || (v == u && i < j);
}`,
  ),
);

const logsumexpKernel = memoKernel((wide: boolean) =>
  rowKernel(
    'logsumexp',
    wide,
    { ...IN, out: OUT },
    // Shifted by the row's max; an infinite max shifts by 0, so -inf rows give -inf and +inf ones
    // +inf; a NaN reaches the sum.
    (w) => `
  var m = bitcast<f32>(neg_inf_bits);
  ${w.each('m = f_max(m, x[i]);')}
  ${w.all('m', 'f_max')}
  if (is_inf(m)) { m = 0.0; }
  var s = 0.0;
  ${w.each('s += exp(x[i] - m);')}
  ${w.all('s', 'f_add')}
  ${w.once('out[o] = log(s) + m;')}`,
  ),
);

const varianceKernel = memoKernel((sqrtOut: boolean, wide: boolean) =>
  rowKernel(
    sqrtOut ? 'std' : 'variance',
    wide,
    { ...IN, out: OUT },
    // Two passes (mean, then squared deviations), divided by R - correction; NaN where that is <= 0.
    (w) => `
  var s = 0.0;
  ${w.each('s += x[i];')}
  ${w.all('s', 'f_add')}
  let mu = s / f32(params.R);
  var q = 0.0;
  ${w.each('let d = x[i] - mu; q += d * d;')}
  ${w.all('q', 'f_add')}
  let den = f32(params.R) - params.c;
  let v = select(q / den, bitcast<f32>(nan_bits), den <= 0.0);
  ${w.once(`out[o] = ${sqrtOut ? 'sqrt(v)' : 'v'};`)}`,
  ),
);

const prodKernel = memoKernel((wide: boolean) =>
  rowKernel(
    'prod',
    wide,
    { ...IN, out: OUT },
    (w) => `
  var p = 1.0;
  ${w.each('p *= x[i];')}
  ${w.all('p', 'f_mul')}
  ${w.once('out[o] = p;')}`,
  ),
);

const prodBackwardKernel = memoKernel((wide: boolean) =>
  rowKernel(
    'prodBackward',
    wide,
    { ...IN, dy: { type: 'f32' }, dx: OUT },
    // d prod / d x_r is the product of the other terms: the product over x / x_r without zeros;
    // with one zero, the product of the nonzero terms at the zero and 0 elsewhere; 0 with more.
    (w) => `
  var zeros = 0.0; var pnz = 1.0;
  ${w.each('let v = x[i]; if (v == 0.0) { zeros += 1.0; } else { pnz *= v; }')}
  ${w.all('zeros', 'f_add')}
  ${w.all('pnz', 'f_mul')}
  let g = dy[o];
  ${w.each(`let v = x[i];
    var d = 0.0;
    if (zeros == 0.0) { d = g * (pnz / v); } else if (zeros == 1.0 && v == 0.0) { d = g * pnz; }
    dx[i] = d;`)}`,
  ),
);

const softmaxKernel = memoKernel((log: boolean, wide: boolean) =>
  rowKernel(
    log ? 'logSoftmaxDim' : 'softmaxDim',
    wide,
    { ...IN, y: OUT },
    (w) => `
  var m = bitcast<f32>(neg_inf_bits);
  ${w.each('m = f_max(m, x[i]);')}
  ${w.all('m', 'f_max')}
  var s = 0.0;
  ${w.each('s += exp(x[i] - m);')}
  ${w.all('s', 'f_add')}
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  ${w.each(`y[i] = ${log ? 'x[i] - m - ls' : 'exp(x[i] - m) * inv'};`)}`,
  ),
);

const softmaxBackwardKernel = memoKernel((log: boolean, wide: boolean) =>
  rowKernel(
    log ? 'logSoftmaxDimBackward' : 'softmaxDimBackward',
    wide,
    { dy: { type: 'f32' }, y: { type: 'f32' }, dx: OUT },
    // softmax: dx = y (dy - sum(dy y)); logSoftmax: dx = dy - exp(y) sum(dy).
    (w) => `
  var s = 0.0;
  ${w.each(`s += ${log ? 'dy[i]' : 'dy[i] * y[i]'};`)}
  ${w.all('s', 'f_add')}
  ${w.each(`dx[i] = ${log ? 'dy[i] - exp(y[i]) * s' : 'y[i] * (dy[i] - s)'};`)}`,
  ),
);

const scatterKernel = memoKernel((wide: boolean) =>
  rowKernel(
    'extremeDimBackward',
    wide,
    { dy: { type: 'f32' }, indices: { type: 'i32' }, dx: OUT },
    (w) => `
  let at = u32(indices[o]);
  let g = dy[o];
  ${w.each('dx[i] = select(0.0, g, r == at);')}`,
  ),
);

const tieMaskKernel = memoKernel((wide: boolean) =>
  rowKernel(
    'tieMask',
    wide,
    { ...IN, y: { type: 'f32' }, mask: OUT },
    (w) => `
  let e = y[o];
  ${w.each('let v = x[i]; mask[i] = select(0.0, 1.0, v == e || (is_nan(v) && is_nan(e)));')}`,
  ),
);

const varianceBackwardKernel = memoKernel((sqrtOut: boolean, wide: boolean) =>
  rowKernel(
    sqrtOut ? 'stdBackward' : 'varianceBackward',
    wide,
    { ...IN, dy: { type: 'f32' }, y: { type: 'f32' }, dx: OUT },
    (w) => `
  var s = 0.0;
  ${w.each('s += x[i];')}
  ${w.all('s', 'f_add')}
  let mu = s / f32(params.R);
  let den = f32(params.R) - params.c;
  ${sqrtOut ? 'let g = select(dy[o] / (den * y[o]), 0.0, y[o] == 0.0);' : 'let g = 2.0 * dy[o] / den;'}
  ${w.each('dx[i] = g * (x[i] - mu);')}`,
  ),
);

/** Long rows, when there are few, take a workgroup each; otherwise an invocation each. */
export function wideRows(rows: Rows): boolean {
  return rows.R >= WIDE_MIN_R && rows.outer * rows.inner <= WIDE_MAX_ROWS;
}
const WIDE_MIN_R = 256;
const WIDE_MAX_ROWS = 2048;

type RowLaunch = {
  launch: (b: never, p: { O: number; R: number; inner: number; c: number }, g: [number, number]) => void;
};

/** Launches the row kernel `make(wide)` over the rows (nothing for no rows or empty ones). */
function launchRows(make: (wide: boolean) => RowLaunch, buffers: Record<string, Tensor>, rows: Rows, c = 0): void {
  const O = rows.outer * rows.inner;
  if (O === 0 || rows.R === 0) return;
  const wide = wideRows(rows);
  const groups = wide ? grid1d(O, 1) : flatGrid(O, WG).groups;
  make(wide).launch(buffers as never, { O, R: rows.R, inner: rows.inner, c }, groups);
}

/** Shape checks of the one-dim kernels: f32 x, a dim in range with at least one term. */
function dimRows(kernel: string, x: Tensor, dim: number): { d: number; rows: Rows } {
  checkF32(kernel, 'x', x);
  const d = normalizeDim(kernel, x.shape, dim);
  const rows = x.shape.length === 0 ? { outer: 1, R: 1, inner: 1 } : rowsOf(x.shape, [d]);
  return { d, rows };
}

function extremeDim(op: 'max' | 'min', x: Tensor, dim: number, keepdim: boolean) {
  const kernel = `${op}Dim`;
  const { d, rows } = dimRows(kernel, x, dim);
  if (rows.R === 0)
    throw new KernelArgumentError(kernel, `dim ${dim} of x ${formatShape(x.shape)} is empty: ${op} has no identity.`);
  const shape = x.shape.length === 0 ? [] : reducedShape(x.shape, [d], keepdim);
  const values = Tensor.empty(shape, 'f32', kernel);
  const indices = Tensor.empty(shape, 'i32', `${kernel}.indices`);
  launchRows((wide) => extremeKernel(op, wide), { x, values, indices }, rows);
  return { values, indices };
}

/** The largest value along `dim` and the index of its first occurrence (i32); NaN wins, as in PyTorch. */
export function maxDim(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extremeDim('max', x, dim, keepdim);
}

/** The smallest value along `dim` and the index of its first occurrence (i32); NaN wins, as in PyTorch. */
export function minDim(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extremeDim('min', x, dim, keepdim);
}

/** dx of maxDim / minDim: dy (reduced shape, keepdim or not) placed at the indices along `dim` of `shape`. */
export function extremeDimBackward(dy: Tensor, indices: Tensor, shape: readonly number[], dim: number): Tensor {
  checkF32('extremeDimBackward', 'dy', dy);
  const d = normalizeDim('extremeDimBackward', shape, dim);
  const rows = shape.length === 0 ? { outer: 1, R: 1, inner: 1 } : rowsOf(shape, [d]);
  if (dy.size !== rows.outer * rows.inner || indices.size !== dy.size || indices.dtype !== 'i32')
    throw new KernelArgumentError(
      'extremeDimBackward',
      `dy ${formatShape(dy.shape)} and indices ${indices.dtype} ${formatShape(indices.shape)} ` +
        `must be the reduction of ${formatShape(shape)} over dim ${dim}, indices i32.`,
    );
  const dx = Tensor.empty(shape, 'f32', 'extremeDimBackward');
  launchRows(scatterKernel, { dy, indices, dx }, rows);
  return dx;
}

/**
 * Runs a row kernel over `axes` (any set; none: each element is its own row): adjacent ones in
 * place, others after permuting them to the end. Returns the output in the reduced shape, or
 * `empty` everywhere when a reduced dim has no elements.
 */
function reduceRows(
  kernel: string,
  x: Tensor,
  axesIn: readonly number[],
  keepdim: boolean,
  empty: number,
  run: (x: Tensor, out: Tensor, rows: Rows) => void,
): Tensor {
  checkF32(kernel, 'x', x);
  const axes = normalizeAxes(kernel, x.shape, axesIn);
  const shape = reducedShape(x.shape, axes, keepdim);
  if (axes.some((d) => x.shape[d] === 0)) return fill(shape, empty);
  const out = Tensor.empty(shape, 'f32', kernel);
  if (axes.length === 0) run(x, out, { outer: x.size, R: 1, inner: 1 });
  else if (adjacentAxes(x.shape, axes)) run(x, out, rowsOf(x.shape, axes));
  else {
    const moved = permute(x, axesLast(x.shape.length, axes));
    run(moved, out, { outer: out.size, R: x.size / Math.max(1, out.size), inner: 1 });
    moved.dispose();
  }
  return out;
}

/** log(sum(exp(x))) over `axes`, stably; rows of -inf give -inf. */
export function logsumexp(x: Tensor, axes: readonly number[], keepdim = false): Tensor {
  return reduceRows('logsumexp', x, axes, keepdim, -Infinity, (x, out, rows) =>
    launchRows(logsumexpKernel, { x, out }, rows),
  );
}

/** Variance over `axes` with PyTorch's correction (1: unbiased); NaN where n - correction <= 0. */
export function variance(x: Tensor, axes: readonly number[], correction = 1, keepdim = false): Tensor {
  return reduceRows('variance', x, axes, keepdim, NaN, (x, out, rows) =>
    launchRows((wide) => varianceKernel(false, wide), { x, out }, rows, correction),
  );
}

/** Standard deviation: sqrt(variance(x, axes, correction, keepdim)), one kernel. */
export function std(x: Tensor, axes: readonly number[], correction = 1, keepdim = false): Tensor {
  return reduceRows('std', x, axes, keepdim, NaN, (x, out, rows) =>
    launchRows((wide) => varianceKernel(true, wide), { x, out }, rows, correction),
  );
}

/** Product along `dim` (flatten first for the product of all elements); 1 over an empty dim. */
export function prod(x: Tensor, dim: number, keepdim = false): Tensor {
  const { d, rows } = dimRows('prod', x, dim);
  const shape = x.shape.length === 0 ? [] : reducedShape(x.shape, [d], keepdim);
  if (rows.R === 0) return fill(shape, 1);
  const out = Tensor.empty(shape, 'f32', 'prod');
  launchRows(prodKernel, { x, out }, rows);
  return out;
}

/** dx of prod along `dim` for dy (the reduced shape), correct with zeros in x. */
export function prodBackward(dy: Tensor, x: Tensor, dim: number): Tensor {
  const { rows } = dimRows('prodBackward', x, dim);
  checkF32('prodBackward', 'dy', dy);
  if (dy.size !== rows.outer * rows.inner)
    throw new KernelArgumentError(
      'prodBackward',
      `dy ${formatShape(dy.shape)} is not the reduction of x ${formatShape(x.shape)} over dim ${dim}.`,
    );
  const dx = Tensor.empty(x.shape, 'f32', 'prodBackward');
  launchRows(prodBackwardKernel, { x, dy, dx }, rows);
  return dx;
}

function softmaxAlong(log: boolean, x: Tensor, dim: number): Tensor {
  const name = log ? 'logSoftmaxDim' : 'softmaxDim';
  const { rows } = dimRows(name, x, dim);
  const y = Tensor.empty(x.shape, 'f32', name);
  launchRows((wide) => softmaxKernel(log, wide), { x, y }, rows);
  return y;
}

function softmaxAlongBackward(log: boolean, dy: Tensor, y: Tensor, dim: number): Tensor {
  const name = log ? 'logSoftmaxDimBackward' : 'softmaxDimBackward';
  const { rows } = dimRows(name, y, dim);
  checkF32(name, 'dy', dy);
  if (dy.shape.length !== y.shape.length || dy.shape.some((n, i) => n !== y.shape[i]))
    throw new KernelArgumentError(name, `dy ${formatShape(dy.shape)} and y ${formatShape(y.shape)} differ.`);
  const dx = Tensor.empty(y.shape, 'f32', name);
  launchRows((wide) => softmaxBackwardKernel(log, wide), { dy, y, dx }, rows);
  return dx;
}

/** Softmax along any `dim` (the loss family's softmax is the fast path for the last dim of 2-D). */
export const softmaxDim = (x: Tensor, dim: number): Tensor => softmaxAlong(false, x, dim);
/** log(softmax(x)) along any `dim`, stably. */
export const logSoftmaxDim = (x: Tensor, dim: number): Tensor => softmaxAlong(true, x, dim);
/** dx for dy at y = softmaxDim(x, dim). */
export const softmaxDimBackward = (dy: Tensor, y: Tensor, dim: number): Tensor =>
  softmaxAlongBackward(false, dy, y, dim);
/** dx for dy at y = logSoftmaxDim(x, dim). */
export const logSoftmaxDimBackward = (dy: Tensor, y: Tensor, dim: number): Tensor =>
  softmaxAlongBackward(true, dy, y, dim);

/**
 * Runs a kernel that writes an x-shaped output over the rows of `axes`: in place when they are
 * adjacent, else on x with them permuted to the end, permuting the output back.
 */
function mapRows(kernel: string, x: Tensor, axes: number[], run: (x: Tensor, out: Tensor, rows: Rows) => void): Tensor {
  if (axes.length === 0 || adjacentAxes(x.shape, axes)) {
    const out = Tensor.empty(x.shape, 'f32', kernel);
    run(x, out, axes.length ? rowsOf(x.shape, axes) : { outer: x.size, R: 1, inner: 1 });
    return out;
  }
  const perm = axesLast(x.shape.length, axes);
  const moved = permute(x, perm);
  const outMoved = Tensor.empty(moved.shape, 'f32', kernel);
  const R = axes.reduce((a, d) => a * x.shape[d], 1);
  run(moved, outMoved, { outer: R === 0 ? 0 : x.size / R, R, inner: 1 });
  moved.dispose();
  const out = permute(
    outMoved,
    perm.map((_, i) => perm.indexOf(i)),
  );
  outMoved.dispose();
  return out;
}

/** Checks that `t` holds one value per row of x reduced over `axes`. */
function checkReduced(kernel: string, name: string, t: Tensor, x: Tensor, axes: number[]): void {
  checkF32(kernel, name, t);
  if (t.size !== sizeOf(reducedShape(x.shape, axes, true)))
    throw new KernelArgumentError(
      kernel,
      `${name} ${formatShape(t.shape)} is not x ${formatShape(x.shape)} reduced over [${axes}].`,
    );
}

/**
 * 1 where x equals its reduction y over `axes` (any shape of y's size) or both are NaN, else 0:
 * the ties among which the gradient of max()/amax is spread.
 */
export function tieMask(x: Tensor, y: Tensor, axesIn: readonly number[]): Tensor {
  checkF32('tieMask', 'x', x);
  const axes = normalizeAxes('tieMask', x.shape, axesIn);
  checkReduced('tieMask', 'y', y, x, axes);
  return mapRows('tieMask', x, axes, (x, mask, rows) => launchRows(tieMaskKernel, { x, y, mask }, rows));
}

/**
 * dx of variance (y = the variance) or, with `sqrtOut`, of std (y = the std) over `axes`:
 * 2 dy (x - mean) / (n - correction), and dy (x - mean) / ((n - correction) std) with 0 where std is 0.
 */
export function varianceBackward(
  dy: Tensor,
  x: Tensor,
  y: Tensor,
  axesIn: readonly number[],
  correction: number,
  sqrtOut: boolean,
): Tensor {
  checkF32('varianceBackward', 'x', x);
  const axes = normalizeAxes('varianceBackward', x.shape, axesIn);
  checkReduced('varianceBackward', 'dy', dy, x, axes);
  checkReduced('varianceBackward', 'y', y, x, axes);
  return mapRows('varianceBackward', x, axes, (x, dx, rows) =>
    launchRows((wide) => varianceBackwardKernel(sqrtOut, wide), { x, dy, y, dx }, rows, correction),
  );
}
