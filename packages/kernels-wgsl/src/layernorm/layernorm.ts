// Layer normalization over the trailing D values of each row (PyTorch's F.layer_norm: biased
// variance). One invocation per row: the statistics are a serial loop over the row (two passes,
// mean then the squared deviations, so the variance does not cancel), and the same invocation
// writes the normalized row while it is in the caches. The backward is one dispatch with two
// kinds of invocation: the first `rows` compute dx of their row, the next D the weight and bias
// gradients of their column (a serial sum over the rows, so the result is deterministic).

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel, type BindingDecl } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';

const WG = 64;
const f32In: BindingDecl = { type: 'f32' };
const f32Out: BindingDecl = { type: 'f32', access: 'read_write' };

/** What layerNorm returns: the output and the per-row statistics its backward needs. */
export interface LayerNormResult {
  /** The normalized (and scaled, shifted) x, x's shape. */
  y: Tensor;
  /** [rows]: the mean of each row. */
  mean: Tensor;
  /** [rows]: 1 / sqrt(var + eps) of each row (biased variance). */
  rstd: Tensor;
}

/** What layerNormBackward returns; dweight / dbias are null when there is no weight / bias. */
export interface LayerNormGrads {
  dx: Tensor;
  dweight: Tensor | null;
  dbias: Tensor | null;
}

// Invocation i takes row i, clamped rather than returned early (the rest would run under an
// execution mask), its stores guarded. The sums are of x - x0 (x0 the row's first value): a row
// far from 0 keeps its low bits.
const forwardKernel = memoKernel((hasWeight: boolean, hasBias: boolean) => {
  const bindings: Record<string, BindingDecl> = { x: f32In };
  if (hasWeight) bindings.weight = f32In;
  if (hasBias) bindings.bias = f32In;
  Object.assign(bindings, { y: f32Out, mean: f32Out, rstd: f32Out });
  const w = hasWeight ? ' * weight[j]' : '';
  const b = hasBias ? ' + bias[j]' : '';
  return defineKernel({
    name: 'layernorm.forward',
    params: { rows: 'u32', D: 'u32', eps: 'f32' },
    bindings,
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let r = min(i, params.rows - 1u);
  let D = params.D;
  let base = r * D;
  let x0 = x[base];
  var s = 0.0;
  for (var j = 0u; j < D; j++) { s += x[base + j] - x0; }
  let ms = s / f32(D);
  var v = 0.0;
  for (var j = 0u; j < D; j++) { let d = (x[base + j] - x0) - ms; v += d * d; }
  let rs = inverseSqrt(v / f32(D) + params.eps);
  if (i < params.rows) {
    mean[r] = x0 + ms;
    rstd[r] = rs;
    for (var j = 0u; j < D; j++) { y[base + j] = ((x[base + j] - x0) - ms) * rs${w}${b}; }
  }`,
  });
});

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * weight.
const backwardKernel = memoKernel((hasWeight: boolean, hasBias: boolean) => {
  const bindings: Record<string, BindingDecl> = { dy: f32In, x: f32In, mean: f32In, rstd: f32In };
  if (hasWeight) bindings.weight = f32In;
  bindings.dx = f32Out;
  if (hasWeight) bindings.dweight = f32Out;
  if (hasBias) bindings.dbias = f32Out;
  const g = hasWeight ? 'dy[base + j] * weight[j]' : 'dy[base + j]';
  const columns = hasWeight || hasBias;
  return defineKernel({
    name: 'layernorm.backward',
    params: { rows: 'u32', D: 'u32' },
    bindings,
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let D = params.D;
  if (i < params.rows) {
    let base = i * D;
    let m = mean[i];
    let rs = rstd[i];
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = 0u; j < D; j++) {
      let gj = ${g};
      sg += gj;
      sgx += gj * (x[base + j] - m) * rs;
    }
    let invD = 1.0 / f32(D);
    let a = sg * invD;
    let c = sgx * invD;
    for (var j = 0u; j < D; j++) {
      let gj = ${g};
      dx[base + j] = rs * (gj - a - (x[base + j] - m) * rs * c);
    }
  }${
    columns
      ? ` else if (i < params.rows + D) {
    let j = i - params.rows;
    var sw = 0.0;
    var sb = 0.0;
    for (var r = 0u; r < params.rows; r++) {
      let d = dy[r * D + j];
      ${hasWeight ? 'sw += d * (x[r * D + j] - mean[r]) * rstd[r];' : ''}
      sb += d;
    }
    ${hasWeight ? 'dweight[j] = sw;' : ''}
    ${hasBias ? 'dbias[j] = sb;' : ''}
  }`
      : ''
  }`,
  });
});

/** Rows and row length of x for normalized size D; throws unless x's trailing dims hold D values. */
function rowsOf(kernel: string, x: Tensor, D: number): number {
  checkF32(kernel, 'x', x);
  if (!Number.isInteger(D) || D < 1 || x.size % D !== 0)
    throw new KernelArgumentError(
      kernel,
      `normalized size ${D} does not divide x ${formatShape(x.shape)}; pass the product of x's trailing dims.`,
    );
  return x.size / D;
}

function checkAffine(kernel: string, name: string, t: Tensor | null, D: number): void {
  if (!t) return;
  checkF32(kernel, name, t);
  if (t.size !== D)
    throw new KernelArgumentError(kernel, `${name} ${formatShape(t.shape)} must hold ${D} values (normalized size).`);
}

/**
 * Layer norm of each row of D values of x (the trailing dims, flattened): y = (x - mean) * rstd
 * * weight + bias, weight and bias optional (D values each). Returns y and the row statistics.
 */
export function layerNorm(
  x: Tensor,
  D: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): LayerNormResult {
  const rows = rowsOf('layerNorm', x, D);
  checkAffine('layerNorm', 'weight', weight, D);
  checkAffine('layerNorm', 'bias', bias, D);
  const y = Tensor.empty(x.shape, 'f32', 'layerNorm.y');
  const mean = Tensor.empty([rows], 'f32', 'layerNorm.mean');
  const rstd = Tensor.empty([rows], 'f32', 'layerNorm.rstd');
  if (rows === 0) return { y, mean, rstd };
  const bufs: Record<string, Tensor> = { x, y, mean, rstd };
  if (weight) bufs.weight = weight;
  if (bias) bufs.bias = bias;
  forwardKernel(!!weight, !!bias).launch(bufs, { rows, D, eps }, flatGrid(rows, WG).groups);
  return { y, mean, rstd };
}

/**
 * Gradients of layerNorm for dy: dx (x's shape), dweight and dbias (the weight's shape, else [D];
 * null when there is no weight, or `hasBias` is false). mean and rstd are layerNorm's statistics.
 */
export function layerNormBackward(
  dy: Tensor,
  x: Tensor,
  mean: Tensor,
  rstd: Tensor,
  D: number,
  weight: Tensor | null,
  hasBias: boolean,
): LayerNormGrads {
  const rows = rowsOf('layerNormBackward', x, D);
  checkF32('layerNormBackward', 'dy', dy);
  if (!sameShape(dy.shape, x.shape))
    throw new KernelArgumentError(
      'layerNormBackward',
      `dy ${formatShape(dy.shape)} must have x's shape ${formatShape(x.shape)}.`,
    );
  if (mean.size !== rows || rstd.size !== rows)
    throw new KernelArgumentError(
      'layerNormBackward',
      `mean ${formatShape(mean.shape)} and rstd ${formatShape(rstd.shape)} must hold ${rows} values (one a row).`,
    );
  checkAffine('layerNormBackward', 'weight', weight, D);
  const dx = Tensor.empty(x.shape, 'f32', 'layerNormBackward.dx');
  const affineShape = weight?.shape ?? [D];
  const dweight = weight ? Tensor.empty(affineShape, 'f32', 'layerNormBackward.dweight') : null;
  const dbias = hasBias ? Tensor.empty(affineShape, 'f32', 'layerNormBackward.dbias') : null;
  const columns = dweight || dbias ? D : 0;
  const bufs: Record<string, Tensor> = { dy, x, mean, rstd, dx };
  if (weight) bufs.weight = weight;
  if (dweight) bufs.dweight = dweight;
  if (dbias) bufs.dbias = dbias;
  const n = rows + columns;
  if (n > 0) backwardKernel(!!weight, hasBias).launch(bufs, { rows, D }, flatGrid(n, WG).groups);
  return { dx, dweight, dbias };
}
