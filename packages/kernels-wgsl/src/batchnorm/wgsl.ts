// WGSL for BatchNorm2d (NCHW). Two kinds of kernel:
//
// - per-channel reductions: the training statistics (per-invocation Welford over vec4
//   mini-batches, merged across the workgroup with Chan's formula, so the variance is exact to
//   f32 rounding over any count) and the backward sums (dbeta, dgamma). Grid [S, C]: each
//   channel's units split into S chunks. With S = 1 (lavapipe: 2 cores, few large workgroups
//   win) the workgroup finalizes directly; with S > 1 (GPUs: enough workgroups to fill the
//   machine) it writes a partial and a small combine kernel finalizes each channel.
// - an elementwise apply pass (normalize, eval, dx) with a workgroup row per channel.
//
// A "unit" is a vec4f when H*W is a multiple of 4 (every ResNet20 shape), else one f32.

import { defineKernel, memoKernel, type BindingDecl, type ParamType } from '../common/kernel.js';
import { flatId, reluGradWgsl, reluWgsl } from '../elementwise/launch.js';

export const APPLY_WG = 64;
/** Units per invocation the apply pass aims for (it covers whole planes). */
export const APPLY_ITEMS = 16;

const sumOf = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4f(1.0))` : v);

/** Walk over chunk wid.x of channel c's units (n, q); `hw` is a constant, so `/` and `%` are cheap. */
function channelWalk(hw: number, wg: number, body: string): string {
  return `
  let units = params.N * ${hw}u;
  let j0 = wid.x * params.chunk;
  let j1 = min(units, j0 + params.chunk);
  for (var j = j0 + lid; j < j1; j += ${wg}u) {
    let idx = ((j / ${hw}u) * params.C + c) * ${hw}u + j % ${hw}u;
    ${body}
  }`;
}

/** The reductions' plan (N, C, chunks S of `chunk` units) and M = N * H * W values per channel. */
const SUMS_PARAMS = { N: 'u32', C: 'u32', S: 'u32', chunk: 'u32', M: 'f32' } as const;
/** The statistics kernels add the running-stat update: momentum, eps, unbias = M / (M - 1). */
const STATS_PARAMS = { ...SUMS_PARAMS, momentum: 'f32', eps: 'f32', unbias: 'f32' } as const;

const f32Array = (access: 'read' | 'read_write' = 'read'): BindingDecl => ({ type: 'f32', access });
const STATS_OUT = {
  saveMean: f32Array('read_write'),
  saveInvStd: f32Array('read_write'),
  runningMean: f32Array('read_write'),
  runningVar: f32Array('read_write'),
};
const PER_CHANNEL_BUILTINS = { wid: 'workgroup_id', lid: 'local_invocation_index' } as const;

const FINALIZE_STATS = (c: string, mean: string, m2: string) => `{
    let m = ${mean};
    let v = ${reluWgsl(`(${m2} / params.M)`)}; // clamped at 0; a NaN variance stays NaN
    saveMean[${c}] = m;
    saveInvStd[${c}] = inverseSqrt(v + params.eps);
    runningMean[${c}] = (1.0 - params.momentum) * runningMean[${c}] + params.momentum * m;
    runningVar[${c}] = (1.0 - params.momentum) * runningVar[${c}] + params.momentum * v * params.unbias;
  }`;

/**
 * Per-lane Welford accumulation over the channel walk, then the workgroup merge into shN/shMean/shM2[0]
 * (Chan's formula).
 */
function welfordStats(vec: boolean, hw: number, wg: number): string {
  const T = vec ? 'vec4f' : 'f32';
  const W = vec ? '4.0' : '1.0';
  return `var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  ${channelWalk(
    hw,
    wg,
    `let v = x[idx];
    let bm = ${sumOf(vec, 'v')} * ${vec ? '0.25' : '1.0'};
    let d = v - ${T}(bm);
    cnt += ${W};
    let delta = bm - mean;
    let w = ${W} / cnt;
    mean += delta * w;
    m2 += ${sumOf(vec, 'd * d')} + delta * delta * ${W} * (1.0 - w);`,
  )}
  shN[lid] = cnt; shMean[lid] = mean; shM2[lid] = m2;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let na = shN[lid];
      let nb = shN[lid + s];
      let nt = na + nb;
      if (nb > 0.0) {
        let delta = shMean[lid + s] - shMean[lid];
        let fb = nb / nt;
        shMean[lid] += delta * fb;
        shM2[lid] += shM2[lid + s] + delta * delta * na * fb;
        shN[lid] = nt;
      }
    }
    workgroupBarrier();
  }`;
}

const WELFORD_SHARED = (wg: number) => `var<workgroup> shN: array<f32, ${wg}>;
var<workgroup> shMean: array<f32, ${wg}>;
var<workgroup> shM2: array<f32, ${wg}>;`;

/**
 * Batch statistics. split = false: mean / inverse std per channel and the running stats
 * updated in place; split = true: (count, mean, M2) partials [C, S, 3] for statsCombineKernel.
 */
export const statsKernel = memoKernel((vec: boolean, hw: number, wg: number, split: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: `batchnorm.stats${split ? 'Partial' : ''}`,
    params: STATS_PARAMS,
    bindings: { x: { type: T }, ...(split ? { part: f32Array('read_write') } : STATS_OUT) },
    helpers: WELFORD_SHARED(wg),
    workgroupSize: wg,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${welfordStats(vec, hw, wg)}
  if (lid == 0u) ${
    split
      ? `{
    let o = (c * params.S + wid.x) * 3u;
    part[o] = shN[0]; part[o + 1u] = shMean[0]; part[o + 2u] = shM2[0];
  }`
      : FINALIZE_STATS('c', 'shMean[0]', 'shM2[0]')
  }`,
  });
});

/**
 * The training forward in one pass per channel (the unsplit plan): a workgroup computes its
 * channel's statistics, then normalizes the channel, whose units it has just read and which are
 * still in the CPU's caches (32 KiB a channel at 8x8, batch 128). Saves the apply dispatch and
 * the second read from memory: on lavapipe batchNormTrain at 8x8 took two dispatches of fixed
 * cost for 2 MiB. Bindings: x, gamma, beta, saveMean, saveInvStd, runningMean, runningVar, y.
 */
export const trainFusedKernel = memoKernel((vec: boolean, relu: boolean, hw: number, wg: number) => {
  const T = vec ? 'vec4f' : 'f32';
  const normalize = `let r = (x[idx] - ${T}(m)) * ${T}(sc) + ${T}(bt); y[idx] = ${relu ? reluWgsl('r', T) : 'r'};`;
  return defineKernel({
    name: `batchnorm.train${relu ? 'Relu' : ''}Fused`,
    params: STATS_PARAMS,
    bindings: {
      x: { type: T },
      gamma: f32Array(),
      beta: f32Array(),
      ...STATS_OUT,
      y: { type: T, access: 'read_write' },
    },
    helpers: WELFORD_SHARED(wg),
    workgroupSize: wg,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${welfordStats(vec, hw, wg)}
  if (lid == 0u) ${FINALIZE_STATS('c', 'shMean[0]', 'shM2[0]')}
  let m = shMean[0];
  let sc = gamma[c] * inverseSqrt(${reluWgsl('(shM2[0] / params.M)')} + params.eps);
  let bt = beta[c];
  {${channelWalk(hw, wg, normalize)}
  }`,
  });
});

/** Merges the S (count, mean, M2) partials of each channel and finalizes (one invocation per channel). */
export const statsCombineKernel = defineKernel({
  name: 'batchnorm.statsCombine',
  params: STATS_PARAMS,
  bindings: { part: f32Array(), ...STATS_OUT },
  workgroupSize: 64,
  body: `  let c = ${flatId(64)};
  if (c >= params.C) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var s = 0u; s < params.S; s++) {
    let o = (c * params.S + s) * 3u;
    let nb = part[o];
    if (nb > 0.0) {
      let nt = n + nb;
      let delta = part[o + 1u] - mean;
      let fb = nb / nt;
      mean += delta * fb;
      m2 += part[o + 2u] + delta * delta * n * fb;
      n = nt;
    }
  }
  ${FINALIZE_STATS('c', 'mean', 'm2')}`,
});

const SUMS_SHARED = (wg: number) => `var<workgroup> shG: array<f32, ${wg}>;
var<workgroup> shGX: array<f32, ${wg}>;`;

/**
 * Backward sums per channel: dbeta = sum(g), dgamma = sum(g * xhat), g = dy (masked by y > 0
 * with relu). split = true writes (sum g, sum g*(x - mean)) partials [C, S, 2].
 */
export const backwardSumsKernel = memoKernel((vec: boolean, relu: boolean, hw: number, wg: number, split: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: `batchnorm.backwardSums${relu ? 'Relu' : ''}${split ? 'Partial' : ''}`,
    params: SUMS_PARAMS,
    bindings: {
      ...perUnitBindings(relu, T),
      saveMean: f32Array(),
      saveInvStd: f32Array(),
      ...(split ? { part: f32Array('read_write') } : { dgamma: f32Array('read_write'), dbeta: f32Array('read_write') }),
    },
    helpers: SUMS_SHARED(wg),
    workgroupSize: wg,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${backwardSums(vec, relu, hw, wg)}
  if (lid == 0u) {
    ${
      split
        ? `let o = (c * params.S + wid.x) * 2u;
    part[o] = shG[0]; part[o + 1u] = shGX[0];`
        : `dbeta[c] = shG[0];
    dgamma[c] = shGX[0] * saveInvStd[c];`
    }
  }`,
  });
});

/** dy, x and (with relu) y: one unit per element of the activation. */
const perUnitBindings = (relu: boolean, T: string): Record<string, BindingDecl> =>
  relu ? { dy: { type: T }, x: { type: T }, y: { type: T } } : { dy: { type: T }, x: { type: T } };

/** The upstream gradient of unit `i`, through the ReLU (from its output y) with relu. */
const maskedGrad = (relu: boolean, T: string, i: string) =>
  relu ? reluGradWgsl(`dy[${i}]`, `y[${i}]`, T) : `dy[${i}]`;

/**
 * dx of unit `i`: k * g + (x - mean) * a + b with per-channel k, a, b (applyBody's backward
 * explains why (x - mean) stays explicit).
 */
const dxOf = (T: string, i: string, mean: string) => `${T}(k) * g + (x[${i}] - ${T}(${mean})) * ${T}(a) + ${T}(b)`;

/**
 * Channel c's mean (saveMean), the masked upstream gradient g of each unit and the per-lane
 * sums of g and g * (x - mean), merged into shG/shGX[0] (declared by SUMS_SHARED).
 */
function backwardSums(vec: boolean, relu: boolean, hw: number, wg: number): string {
  const T = vec ? 'vec4f' : 'f32';
  return `let mean = saveMean[c];
  var sg = ${T}(0.0);
  var sgx = ${T}(0.0);
  ${channelWalk(
    hw,
    wg,
    `let g = ${maskedGrad(relu, T, 'idx')};
    sg += g;
    sgx += g * (x[idx] - ${T}(mean));`,
  )}
  shG[lid] = ${sumOf(vec, 'sg')};
  shGX[lid] = ${sumOf(vec, 'sgx')};
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { shG[lid] += shG[lid + s]; shGX[lid] += shGX[lid + s]; }
    workgroupBarrier();
  }`;
}

/**
 * The backward in one pass per channel (the unsplit plan; see trainFusedKernel): the channel's
 * sums, then dx from the units just read. Bindings: dy, x, (y with relu), gamma, saveMean,
 * saveInvStd, dgamma, dbeta, dx.
 */
export const backwardFusedKernel = memoKernel((vec: boolean, relu: boolean, hw: number, wg: number) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: `batchnorm.backward${relu ? 'Relu' : ''}Fused`,
    params: SUMS_PARAMS,
    bindings: {
      ...perUnitBindings(relu, T),
      gamma: f32Array(),
      saveMean: f32Array(),
      saveInvStd: f32Array(),
      dgamma: f32Array('read_write'),
      dbeta: f32Array('read_write'),
      dx: { type: T, access: 'read_write' },
    },
    helpers: SUMS_SHARED(wg),
    workgroupSize: wg,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${backwardSums(vec, relu, hw, wg)}
  let inv = saveInvStd[c];
  let db = shG[0];
  let dg = shGX[0] * inv;
  if (lid == 0u) { dbeta[c] = db; dgamma[c] = dg; }
  let k = gamma[c] * inv;
  let a = -k * inv * dg / params.M;
  let b = -k * db / params.M;
  {${channelWalk(
    hw,
    wg,
    `let g = ${maskedGrad(relu, T, 'idx')};
    dx[idx] = ${dxOf(T, 'idx', 'mean')};`,
  )}
  }`,
  });
});

/** Sums the S backward partials of each channel into dbeta, dgamma. */
export const backwardCombineKernel = defineKernel({
  name: 'batchnorm.backwardCombine',
  params: SUMS_PARAMS,
  bindings: { part: f32Array(), saveInvStd: f32Array(), dgamma: f32Array('read_write'), dbeta: f32Array('read_write') },
  workgroupSize: 64,
  body: `  let c = ${flatId(64)};
  if (c >= params.C) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var s = 0u; s < params.S; s++) {
    let o = (c * params.S + s) * 2u;
    sg += part[o];
    sgx += part[o + 1u];
  }
  dbeta[c] = sg;
  dgamma[c] = sgx * saveInvStd[c];`,
});

export type ApplyMode = 'train' | 'trainRelu' | 'eval' | 'evalRelu' | 'backward' | 'backwardRelu';

/** Per-channel scalars (from c) and the per-unit statement (from i) of an apply mode. */
function applyBody(mode: ApplyMode, T: string): { names: string[]; prelude: string; unit: string } {
  if (mode === 'train' || mode === 'trainRelu') {
    return {
      names: ['x', 'gamma', 'beta', 'saveMean', 'saveInvStd'],
      prelude: `let s = gamma[c] * saveInvStd[c]; let m = saveMean[c]; let bt = beta[c];`,
      unit: `let r = (x[i] - ${T}(m)) * ${T}(s) + ${T}(bt); out[i] = ${mode === 'trainRelu' ? reluWgsl('r', T) : 'r'};`,
    };
  }
  if (mode === 'eval' || mode === 'evalRelu') {
    return {
      names: ['x', 'gamma', 'beta', 'runningMean', 'runningVar'],
      prelude: `let s = gamma[c] * inverseSqrt(runningVar[c] + params.eps); let m = runningMean[c]; let bt = beta[c];`,
      unit: `let r = (x[i] - ${T}(m)) * ${T}(s) + ${T}(bt); out[i] = ${mode === 'evalRelu' ? reluWgsl('r', T) : 'r'};`,
    };
  }
  // dx = k * (g - dbeta/M - xhat * dgamma/M), xhat = (x - mean) * inv, k = gamma * inv:
  // dx = k * g + (x - mean) * a + b per channel. (x - mean) stays explicit: folding the mean
  // into b cancels catastrophically when |mean| >> std, off by 2e-3 on ResNet20's gradients.
  return {
    names: ['dy', 'x', ...(mode === 'backwardRelu' ? ['y'] : []), 'gamma', 'saveMean', 'saveInvStd', 'dgamma', 'dbeta'],
    prelude: `let inv = saveInvStd[c]; let k = gamma[c] * inv; let a = -k * inv * dgamma[c] * params.invM;
      let b = -k * dbeta[c] * params.invM; let m = saveMean[c];`,
    unit: `let g = ${maskedGrad(mode === 'backwardRelu', T, 'i')};
      out[i] = ${dxOf(T, 'i', 'm')};`,
  };
}

/** N and C; eval modes add eps, backward modes invM = 1 / M. */
function applyParams(mode: ApplyMode): Record<string, ParamType> {
  if (mode === 'eval' || mode === 'evalRelu') return { N: 'u32', C: 'u32', eps: 'f32' };
  if (mode === 'backward' || mode === 'backwardRelu') return { N: 'u32', C: 'u32', invM: 'f32' };
  return { N: 'u32', C: 'u32' };
}

function applyBindings(names: string[], T: string): Record<string, BindingDecl> {
  const perUnit = new Set(['dy', 'x', 'y']);
  const binds: Record<string, BindingDecl> = {};
  for (const nm of names) binds[nm] = { type: perUnit.has(nm) ? T : 'f32' };
  binds.out = { type: T, access: 'read_write' };
  return binds;
}

/**
 * The elementwise pass. One row of workgroups per channel (grid [ceil(N / nb), C]), so the
 * channel and its scalars are uniform across the workgroup: no per-lane gathers of
 * per-channel values. Each workgroup covers `nb` planes of its channel; the plane size HW
 * (in units) is a constant of the generated code, so `j / HW` is a multiply and shift.
 * Bindings by mode (then the output):
 * train/trainRelu: x, gamma, beta, saveMean, saveInvStd -> y
 * eval/evalRelu:   x, gamma, beta, runningMean, runningVar -> y
 * backward:        dy, x, gamma, saveMean, saveInvStd, dgamma, dbeta -> dx   (backwardRelu adds y after x)
 */
export const applyKernel = memoKernel((mode: ApplyMode, vec: boolean, hw: number, nb: number) => {
  const T = vec ? 'vec4f' : 'f32';
  const { names, prelude, unit } = applyBody(mode, T);
  return defineKernel({
    name: `batchnorm.${mode}`,
    params: applyParams(mode),
    bindings: applyBindings(names, T),
    workgroupSize: APPLY_WG,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${prelude}
  let n0 = wid.x * ${nb}u;
  let count = min(${nb}u, params.N - n0) * ${hw}u;
  for (var j = lid; j < count; j += ${APPLY_WG}u) {
    let i = ((n0 + j / ${hw}u) * params.C + c) * ${hw}u + j % ${hw}u;
    ${unit}
  }`,
  });
});

/** The names of an apply mode's input bindings, in order (then `out`). */
export const applyInputs = (mode: ApplyMode): string[] => applyBody(mode, 'f32').names;
