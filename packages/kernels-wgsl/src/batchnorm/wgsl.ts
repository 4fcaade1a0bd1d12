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
// An epilogue follows the normalization: none, a ReLU, or ResNet's block end, a residual add
// then a ReLU. Their backward masks dy by the op's output (and, for addRelu, writes that masked
// gradient as dresidual). The backward kernels have a variant (dy2) that reads the upstream
// gradient as dy + dy2: where the output feeds two ops, autograd hands over both gradients
// rather than adding them in a dispatch of their own.
//
// A "unit" is a vec4f when H*W is a multiple of 4 (every ResNet20 shape), else one f32.

import { defineKernel, memoKernel, type BindingDecl, type ParamType } from '../common/kernel.js';
import { flatId, reluGradWgsl, reluWgsl } from '../elementwise/launch.js';

export const APPLY_WG = 64;
/** Units per invocation the apply pass aims for (it covers whole planes). */
export const APPLY_ITEMS = 16;

const sumOf = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4f(1.0))` : v);

/** What follows the normalization: nothing, relu(y), or relu(y + residual). */
export type Epilogue = 'none' | 'relu' | 'addRelu';
/** The suffix of the kernel names of an epilogue (batchnorm.trainReluFused). */
const epilogueName = (epi: Epilogue): string => ({ none: '', relu: 'Relu', addRelu: 'AddRelu' })[epi];

/** `let r` = the normalized unit i (x[i] - m) * s + bt, plus its residual for addRelu; then out[i]. */
const normalizeUnit = (epi: Epilogue, T: string, i: string, out: string) =>
  `let r = (x[${i}] - ${T}(m)) * ${T}(s) + ${T}(bt)${epi === 'addRelu' ? ` + residual[${i}]` : ''};
    ${out}[${i}] = ${epi === 'none' ? 'r' : reluWgsl('r', T)};`;

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

// The variance is clamped at 0; a NaN variance stays NaN.
const FINALIZE_STATS = (c: string, mean: string, m2: string) => `{
    let m = ${mean};
    let v = ${reluWgsl(`(${m2} / params.M)`)};
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
 * cost for 2 MiB. Bindings: x, (residual with addRelu), gamma, beta, saveMean, saveInvStd,
 * runningMean, runningVar, y.
 */
export const trainFusedKernel = memoKernel((vec: boolean, epi: Epilogue, hw: number, wg: number) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: `batchnorm.train${epilogueName(epi)}Fused`,
    params: STATS_PARAMS,
    bindings: {
      x: { type: T },
      ...(epi === 'addRelu' ? { residual: { type: T } } : {}),
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
  let s = gamma[c] * inverseSqrt(${reluWgsl('(shM2[0] / params.M)')} + params.eps);
  let bt = beta[c];
  {${channelWalk(hw, wg, normalizeUnit(epi, T, 'idx', 'y'))}
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
export const backwardSumsKernel = memoKernel(
  (vec: boolean, relu: boolean, hw: number, wg: number, split: boolean, dy2: boolean) => {
    const T = vec ? 'vec4f' : 'f32';
    return defineKernel({
      name: `batchnorm.backwardSums${relu ? 'Relu' : ''}${split ? 'Partial' : ''}`,
      params: SUMS_PARAMS,
      bindings: {
        ...perUnitBindings(relu, T, dy2),
        saveMean: f32Array(),
        saveInvStd: f32Array(),
        ...(split
          ? { part: f32Array('read_write') }
          : { dgamma: f32Array('read_write'), dbeta: f32Array('read_write') }),
      },
      helpers: SUMS_SHARED(wg),
      workgroupSize: wg,
      builtins: PER_CHANNEL_BUILTINS,
      body: `  let c = wid.y;
  ${backwardSums(vec, relu, hw, wg, dy2)}
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
  },
);

/** dy, (dy2), x and (masked by a ReLU) y, the op's output: one unit per element of the activation. */
const perUnitBindings = (relu: boolean, T: string, dy2: boolean): Record<string, BindingDecl> => ({
  dy: { type: T },
  ...(dy2 ? { dy2: { type: T } } : {}),
  x: { type: T },
  ...(relu ? { y: { type: T } } : {}),
});

/** The upstream gradient of unit `i` (dy + dy2 with dy2), through the ReLU (from its output y) with relu. */
function maskedGrad(relu: boolean, T: string, i: string, dy2: boolean): string {
  const dy = dy2 ? `(dy[${i}] + dy2[${i}])` : `dy[${i}]`;
  return relu ? reluGradWgsl(dy, `y[${i}]`, T) : dy;
}

/**
 * dx of unit `i`: k * g + (x - mean) * a + b with per-channel k, a, b (applyBody's backward
 * explains why (x - mean) stays explicit).
 */
const dxOf = (T: string, i: string, mean: string) => `${T}(k) * g + (x[${i}] - ${T}(${mean})) * ${T}(a) + ${T}(b)`;

/**
 * dx of unit i from its masked gradient g; addRelu also writes g as dresidual. With `kept`, g was
 * stored there by the sums pass and is read back instead of recomputed.
 */
function dxUnit(epi: Epilogue, T: string, i: string, out: string, mean: string, dy2: boolean, kept?: string): string {
  const dresidual = epi === 'addRelu' && kept !== 'dresidual' ? `\n    dresidual[${i}] = g;` : '';
  const g = kept ? `${kept}[${i}]` : maskedGrad(epi !== 'none', T, i, dy2);
  return `let g = ${g};
    ${out}[${i}] = ${dxOf(T, i, mean)};${dresidual}`;
}

/**
 * Where the one-pass backward keeps each unit's masked gradient between its passes, so the
 * second reads it and x rather than dy, (dy2,) y and x: dresidual, which addRelu writes anyway,
 * or dx, which the second pass then overwrites. Without a mask there is nothing to save.
 */
function keptGrad(epi: Epilogue): string | undefined {
  return { none: undefined, relu: 'dx', addRelu: 'dresidual' }[epi];
}

/**
 * Channel c's mean (saveMean), the masked upstream gradient g of each unit and the per-lane
 * sums of g and g * (x - mean), merged into shG/shGX[0] (declared by SUMS_SHARED).
 */
function backwardSums(vec: boolean, relu: boolean, hw: number, wg: number, dy2: boolean, keep?: string): string {
  const T = vec ? 'vec4f' : 'f32';
  return `let mean = saveMean[c];
  var sg = ${T}(0.0);
  var sgx = ${T}(0.0);
  ${channelWalk(
    hw,
    wg,
    `let g = ${maskedGrad(relu, T, 'idx', dy2)};${keep ? `\n    ${keep}[idx] = g;` : ''}
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
 * sums, then dx from the units just read (behind a ReLU, from the masked gradient the sums pass
 * kept: keptGrad). Bindings: dy, (dy2), x, (y with an epilogue), gamma,
 * saveMean, saveInvStd, dgamma, dbeta, dx, (dresidual with addRelu).
 */
export const backwardFusedKernel = memoKernel((vec: boolean, epi: Epilogue, hw: number, wg: number, dy2: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  return defineKernel({
    name: `batchnorm.backward${epilogueName(epi)}Fused`,
    params: SUMS_PARAMS,
    bindings: {
      ...perUnitBindings(epi !== 'none', T, dy2),
      gamma: f32Array(),
      saveMean: f32Array(),
      saveInvStd: f32Array(),
      dgamma: f32Array('read_write'),
      dbeta: f32Array('read_write'),
      dx: { type: T, access: 'read_write' },
      ...(epi === 'addRelu' ? { dresidual: { type: T, access: 'read_write' } } : {}),
    },
    helpers: SUMS_SHARED(wg),
    workgroupSize: wg,
    builtins: PER_CHANNEL_BUILTINS,
    body: `  let c = wid.y;
  ${backwardSums(vec, epi !== 'none', hw, wg, dy2, keptGrad(epi))}
  let inv = saveInvStd[c];
  let db = shG[0];
  let dg = shGX[0] * inv;
  if (lid == 0u) { dbeta[c] = db; dgamma[c] = dg; }
  let k = gamma[c] * inv;
  let a = -k * inv * dg / params.M;
  let b = -k * db / params.M;
  {${channelWalk(hw, wg, dxUnit(epi, T, 'idx', 'dx', 'mean', dy2, keptGrad(epi)))}
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

/** The apply pass: normalize with the batch statistics, with the running ones, or the backward's dx. */
export type ApplyPass = 'train' | 'eval' | 'backward';

/** Per-channel scalars (from c) and the per-unit statement (from i) of an apply pass and epilogue. */
function applyBody(
  pass: ApplyPass,
  epi: Epilogue,
  T: string,
  dy2: boolean,
): { names: string[]; outs: string[]; prelude: string; unit: string } {
  const residual = epi === 'addRelu' ? ['residual'] : [];
  if (pass === 'train') {
    return {
      names: ['x', ...residual, 'gamma', 'beta', 'saveMean', 'saveInvStd'],
      outs: ['out'],
      prelude: `let s = gamma[c] * saveInvStd[c]; let m = saveMean[c]; let bt = beta[c];`,
      unit: normalizeUnit(epi, T, 'i', 'out'),
    };
  }
  if (pass === 'eval') {
    return {
      names: ['x', ...residual, 'gamma', 'beta', 'runningMean', 'runningVar'],
      outs: ['out'],
      prelude: `let s = gamma[c] * inverseSqrt(runningVar[c] + params.eps); let m = runningMean[c]; let bt = beta[c];`,
      unit: normalizeUnit(epi, T, 'i', 'out'),
    };
  }
  // dx = k * (g - dbeta/M - xhat * dgamma/M), xhat = (x - mean) * inv, k = gamma * inv:
  // dx = k * g + (x - mean) * a + b per channel. (x - mean) stays explicit: folding the mean
  // into b cancels catastrophically when |mean| >> std, off by 2e-3 on ResNet20's gradients.
  return {
    names: [
      ...Object.keys(perUnitBindings(epi !== 'none', T, dy2)),
      'gamma',
      'saveMean',
      'saveInvStd',
      'dgamma',
      'dbeta',
    ],
    outs: ['out', ...(epi === 'addRelu' ? ['dresidual'] : [])],
    prelude: `let inv = saveInvStd[c]; let k = gamma[c] * inv; let a = -k * inv * dgamma[c] * params.invM;
      let b = -k * dbeta[c] * params.invM; let m = saveMean[c];`,
    unit: dxUnit(epi, T, 'i', 'out', 'm', dy2),
  };
}

/** N and C; eval adds eps, backward invM = 1 / M. */
function applyParams(pass: ApplyPass): Record<string, ParamType> {
  if (pass === 'eval') return { N: 'u32', C: 'u32', eps: 'f32' };
  if (pass === 'backward') return { N: 'u32', C: 'u32', invM: 'f32' };
  return { N: 'u32', C: 'u32' };
}

function applyBindings(names: string[], outs: string[], T: string): Record<string, BindingDecl> {
  const perUnit = new Set(['dy', 'dy2', 'x', 'y', 'residual']);
  const binds: Record<string, BindingDecl> = {};
  for (const nm of names) binds[nm] = { type: perUnit.has(nm) ? T : 'f32' };
  for (const nm of outs) binds[nm] = { type: T, access: 'read_write' };
  return binds;
}

/**
 * The elementwise pass. One row of workgroups per channel (grid [ceil(N / nb), C]), so the
 * channel and its scalars are uniform across the workgroup: no per-lane gathers of
 * per-channel values. Each workgroup covers `nb` planes of its channel; the plane size HW
 * (in units) is a constant of the generated code, so `j / HW` is a multiply and shift.
 * Bindings by pass (then the outputs; addRelu adds residual after x, and dresidual after dx):
 * train:    x, gamma, beta, saveMean, saveInvStd -> y
 * eval:     x, gamma, beta, runningMean, runningVar -> y
 * backward: dy, (dy2), x, (y with an epilogue), gamma, saveMean, saveInvStd, dgamma, dbeta -> dx
 * (dy2: the backward's variant reading dy + dy2)
 */
export const applyKernel = memoKernel(
  (pass: ApplyPass, epi: Epilogue, vec: boolean, hw: number, nb: number, dy2: boolean) => {
    const T = vec ? 'vec4f' : 'f32';
    const { names, outs, prelude, unit } = applyBody(pass, epi, T, dy2);
    return defineKernel({
      name: `batchnorm.${pass}${epilogueName(epi)}`,
      params: applyParams(pass),
      bindings: applyBindings(names, outs, T),
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
  },
);

/** The names of an apply pass's input and output bindings, in order. */
export const applyInputs = (pass: ApplyPass, epi: Epilogue, dy2: boolean): { names: string[]; outs: string[] } => {
  const { names, outs } = applyBody(pass, epi, 'f32', dy2);
  return { names, outs };
};
