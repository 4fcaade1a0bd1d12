// Negative log-likelihood of log-probabilities [N, C] or [N, C, d...] against i32 class indices
// [N] or [N, d...] (PyTorch's F.nll_loss): per-element losses -weight[t] * logProbs[n, t, ...],
// 0 where t is ignoreIndex. 'mean' divides the sum by the total weight of the targets that are
// not ignored (NaN when there are none), 'sum' does not. The extra dims d... are flattened to S.

import { Tensor, formatShape, sizeOf } from '@wgtorch/tensor';
import { KernelArgumentError, checkDtype } from '../common/errors.js';
import { defineKernel, memoKernel, NAN_BITS_WGSL, type BindingDecl } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';

/** How a loss reduces its per-element values: kept ('none'), averaged ('mean') or summed ('sum'). */
export type Reduction = 'none' | 'mean' | 'sum';

/** What nllLoss returns: the loss and, for 'mean' and 'sum', the total weight (mean's divisor). */
export interface NllLossResult {
  /** [N, d...] for 'none', else [] (one value). */
  loss: Tensor;
  /** []: the summed weight of the targets not ignored; null for 'none'. */
  totalWeight: Tensor | null;
}

const WG = 256;
const PARAMS = { M: 'u32', C: 'u32', S: 'u32', ignoreIndex: 'i32' } as const;

/** WGSL: the loss and weight of target element e (in [0, M)) as `lossOf(e)` / `weightOf(e)`. */
const elementHelpers = (hasWeight: boolean) => `${NAN_BITS_WGSL}
fn classWeight(t: i32) -> f32 { return ${hasWeight ? 'weight[u32(t)]' : '1.0'}; }
fn valid(t: i32) -> bool { return t >= 0 && u32(t) < params.C; }
fn weightOf(e: u32) -> f32 {
  let t = labels[e];
  return select(0.0, classWeight(t), t != params.ignoreIndex && valid(t));
}
fn lossOf(e: u32) -> f32 {
  let t = labels[e];
  if (t == params.ignoreIndex) { return 0.0; }
  if (!valid(t)) { return bitcast<f32>(nan_bits); }
  let n = e / params.S;
  let s = e % params.S;
  return -classWeight(t) * logProbs[(n * params.C + u32(t)) * params.S + s];
}`;

const inputs = (hasWeight: boolean): Record<string, BindingDecl> => ({
  logProbs: { type: 'f32' },
  labels: { type: 'i32' }, // the target ('target' is a WGSL keyword)
  ...(hasWeight ? { weight: { type: 'f32' } } : {}),
});

const noneKernel = memoKernel((hasWeight: boolean) =>
  defineKernel({
    name: 'loss.nllNone',
    params: PARAMS,
    bindings: { ...inputs(hasWeight), loss: { type: 'f32', access: 'read_write' } },
    helpers: elementHelpers(hasWeight),
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let v = lossOf(min(i, params.M - 1u));
  if (i < params.M) { loss[i] = v; }`,
  }),
);

// One workgroup: each invocation sums elements lid, lid + WG, ...; then a tree sum.
const reduceKernel = memoKernel((hasWeight: boolean, mean: boolean) =>
  defineKernel({
    name: `loss.nll${mean ? 'Mean' : 'Sum'}`,
    params: PARAMS,
    bindings: {
      ...inputs(hasWeight),
      loss: { type: 'f32', access: 'read_write' },
      totalWeight: { type: 'f32', access: 'read_write' },
    },
    helpers: `${elementHelpers(hasWeight)}
var<workgroup> shL: array<f32, ${WG}>;
var<workgroup> shW: array<f32, ${WG}>;`,
    workgroupSize: WG,
    builtins: { lid: 'local_invocation_index' },
    body: `  var l = 0.0;
  var w = 0.0;
  for (var e = lid; e < params.M; e += ${WG}u) { l += lossOf(e); w += weightOf(e); }
  shL[lid] = l;
  shW[lid] = w;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { shL[lid] += shL[lid + s]; shW[lid] += shW[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    totalWeight[0] = shW[0];
    loss[0] = ${mean ? 'select(shL[0] / shW[0], bitcast<f32>(nan_bits), shW[0] == 0.0)' : 'shL[0]'};
  }`,
  }),
);

// One invocation per element of dlogProbs: -weight[t] * g at the target's class, else 0.
const backwardKernel = memoKernel((hasWeight: boolean, reduction: Reduction) => {
  const bindings: Record<string, BindingDecl> = { dy: { type: 'f32' }, labels: { type: 'i32' } };
  if (hasWeight) bindings.weight = { type: 'f32' };
  if (reduction === 'mean') bindings.totalWeight = { type: 'f32' };
  bindings.dx = { type: 'f32', access: 'read_write' };
  return defineKernel({
    name: 'loss.nllBackward',
    params: { n: 'u32', C: 'u32', S: 'u32', ignoreIndex: 'i32' },
    bindings,
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let s = k % params.S;
  let c = (k / params.S) % params.C;
  let n = k / (params.S * params.C);
  let e = n * params.S + s;
  let t = labels[e];
  let hit = t == i32(c) && t != params.ignoreIndex;
  let g = ${reduction === 'none' ? 'dy[e]' : reduction === 'mean' ? 'dy[0] / totalWeight[0]' : 'dy[0]'};
  let w = ${hasWeight ? 'weight[c]' : '1.0'};
  if (i < params.n) { dx[i] = select(0.0, -w * g, hit); }`,
  });
});

/** [N, C, S] of logProbs, checking target [N, d...] and weight [C]. */
function geometry(kernel: string, logProbs: Tensor, target: Tensor, weight: Tensor | null): [number, number, number] {
  checkF32(kernel, 'logProbs', logProbs);
  checkDtype(kernel, 'target', target, 'i32');
  const s = logProbs.shape;
  if (s.length < 2)
    throw new KernelArgumentError(kernel, `logProbs must be [N, C] or [N, C, d...], got ${formatShape(s)}.`);
  const want = [s[0], ...s.slice(2)];
  if (target.shape.length !== want.length || target.shape.some((d, i) => d !== want[i]))
    throw new KernelArgumentError(
      kernel,
      `target ${formatShape(target.shape)} must be ${formatShape(want)} for logProbs ${formatShape(s)}.`,
    );
  if (weight) {
    checkF32(kernel, 'weight', weight);
    if (weight.shape.length !== 1 || weight.shape[0] !== s[1])
      throw new KernelArgumentError(kernel, `weight ${formatShape(weight.shape)} must be [${s[1]}] (one per class).`);
  }
  return [s[0], s[1], sizeOf(s.slice(2))];
}

function checkReduction(kernel: string, reduction: Reduction): void {
  if (reduction !== 'none' && reduction !== 'mean' && reduction !== 'sum')
    throw new KernelArgumentError(kernel, `reduction must be 'none', 'mean' or 'sum', got '${reduction}'.`);
}

/**
 * The negative log-likelihood of logProbs [N, C, d...] at i32 target [N, d...] (class weights
 * optional, ignoreIndex contributing nothing), reduced as `reduction` says. A target outside
 * [0, C) that is not ignoreIndex gives NaN (the GPU cannot report it): check CPU targets first.
 */
export function nllLoss(
  logProbs: Tensor,
  target: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
  reduction: Reduction,
): NllLossResult {
  const [N, C, S] = geometry('nllLoss', logProbs, target, weight);
  checkReduction('nllLoss', reduction);
  const M = N * S;
  const params = { M, C, S, ignoreIndex };
  const bufs: Record<string, Tensor> = { logProbs, labels: target };
  if (weight) bufs.weight = weight;
  if (reduction === 'none') {
    const loss = Tensor.empty(target.shape, 'f32', 'nllLoss');
    if (M > 0) noneKernel(!!weight).launch({ ...bufs, loss }, params, flatGrid(M, WG).groups);
    return { loss, totalWeight: null };
  }
  const loss = Tensor.empty([], 'f32', 'nllLoss');
  const totalWeight = Tensor.empty([], 'f32', 'nllLoss.totalWeight');
  reduceKernel(!!weight, reduction === 'mean').launch({ ...bufs, loss, totalWeight }, params, [1]);
  return { loss, totalWeight };
}

/**
 * The gradient of nllLoss for logProbs (logProbs' shape `shape`) from dy (target's shape for
 * 'none', else one value); `totalWeight` is nllLoss's (needed for 'mean', else ignored).
 */
export function nllLossBackward(
  dy: Tensor,
  target: Tensor,
  weight: Tensor | null,
  totalWeight: Tensor | null,
  shape: readonly number[],
  ignoreIndex: number,
  reduction: Reduction,
): Tensor {
  checkF32('nllLossBackward', 'dy', dy);
  checkReduction('nllLossBackward', reduction);
  const dx = Tensor.empty(shape, 'f32', 'nllLossBackward');
  const [, C, S] = geometry('nllLossBackward', dx, target, weight);
  const need = reduction === 'none' ? target.size : 1;
  if (dy.size !== need)
    throw new KernelArgumentError(
      'nllLossBackward',
      `dy ${formatShape(dy.shape)} must hold ${need} value(s) for reduction '${reduction}'.`,
    );
  if (reduction === 'mean' && !totalWeight)
    throw new KernelArgumentError('nllLossBackward', "reduction 'mean' needs nllLoss's totalWeight.");
  const bufs: Record<string, Tensor> = { dy, labels: target, dx };
  if (weight) bufs.weight = weight;
  if (reduction === 'mean') bufs.totalWeight = totalWeight!;
  if (dx.size > 0)
    backwardKernel(!!weight, reduction).launch(bufs, { n: dx.size, C, S, ignoreIndex }, flatGrid(dx.size, WG).groups);
  return dx;
}
