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

import { kernel, memoKernel, paramsStruct, MAIN_ARGS, flatId, reluGradWgsl, reluWgsl } from '../elementwise/launch.js';

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

export const REDUCE_PARAMS = ['N: u32', 'C: u32', 'S: u32', 'chunk: u32', 'M: f32', 'momentum: f32', 'eps: f32', 'unbias: f32'];

const STATS_OUT = `@group(0) @binding(2) var<storage, read_write> saveMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> saveInvStd: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;`;

const FINALIZE_STATS = (c: string, mean: string, m2: string) => `{
    let m = ${mean};
    let v = ${reluWgsl(`(${m2} / params.M)`)}; // clamped at 0; a NaN variance stays NaN
    saveMean[${c}] = m;
    saveInvStd[${c}] = inverseSqrt(v + params.eps);
    runningMean[${c}] = (1.0 - params.momentum) * runningMean[${c}] + params.momentum * m;
    runningVar[${c}] = (1.0 - params.momentum) * runningVar[${c}] + params.momentum * v * params.unbias;
  }`;

/** Per-lane Welford accumulation over the channel walk, then the workgroup merge into shN/shMean/shM2[0] (Chan's formula). */
function welfordStats(vec: boolean, hw: number, wg: number): string {
  const T = vec ? 'vec4f' : 'f32';
  const W = vec ? '4.0' : '1.0';
  return `var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  ${channelWalk(hw, wg, `let v = x[idx];
    let bm = ${sumOf(vec, 'v')} * ${vec ? '0.25' : '1.0'};
    let d = v - ${T}(bm);
    cnt += ${W};
    let delta = bm - mean;
    let w = ${W} / cnt;
    mean += delta * w;
    m2 += ${sumOf(vec, 'd * d')} + delta * delta * ${W} * (1.0 - w);`)}
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
  const code = `${paramsStruct(REDUCE_PARAMS)}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
${split ? '@group(0) @binding(2) var<storage, read_write> part: array<f32>;' : STATS_OUT}
${WELFORD_SHARED(wg)}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  ${welfordStats(vec, hw, wg)}
  if (lid == 0u) ${
    split
      ? `{
    let o = (c * params.S + wid.x) * 3u;
    part[o] = shN[0]; part[o + 1u] = shMean[0]; part[o + 2u] = shM2[0];
  }`
      : FINALIZE_STATS('c', 'shMean[0]', 'shM2[0]')
  }
}`;
  return kernel(`batchnorm.stats${split ? 'Partial' : ''}`, split ? ['read', 'read_write'] : ['read', 'read_write', 'read_write', 'read_write', 'read_write'], code);
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
  const code = `${paramsStruct(REDUCE_PARAMS)}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
${STATS_OUT.replace(/binding\((\d)\)/g, (_, d) => `binding(${Number(d) + 2})`)}
@group(0) @binding(8) var<storage, read_write> y: array<${T}>;
${WELFORD_SHARED(wg)}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  ${welfordStats(vec, hw, wg)}
  if (lid == 0u) ${FINALIZE_STATS('c', 'shMean[0]', 'shM2[0]')}
  let m = shMean[0];
  let sc = gamma[c] * inverseSqrt(${reluWgsl('(shM2[0] / params.M)')} + params.eps);
  let bt = beta[c];
  {${channelWalk(hw, wg, `let r = (x[idx] - ${T}(m)) * ${T}(sc) + ${T}(bt); y[idx] = ${relu ? reluWgsl('r', T) : 'r'};`)}
  }
}`;
  return kernel(`batchnorm.train${relu ? 'Relu' : ''}Fused`, ['read', 'read', 'read', 'read_write', 'read_write', 'read_write', 'read_write', 'read_write'], code);
});

/** Merges the S (count, mean, M2) partials of each channel and finalizes (one invocation per channel). */
export const statsCombineKernel = kernel(
  'batchnorm.statsCombine',
  ['read', 'read_write', 'read_write', 'read_write', 'read_write'],
  `${paramsStruct(REDUCE_PARAMS)}
@group(0) @binding(1) var<storage, read> part: array<f32>;
${STATS_OUT}
@compute @workgroup_size(64) fn main(${MAIN_ARGS}) {
  let c = ${flatId(64)};
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
  ${FINALIZE_STATS('c', 'mean', 'm2')}
}`,
);

const SUMS_SHARED = (wg: number) => `var<workgroup> shG: array<f32, ${wg}>;
var<workgroup> shGX: array<f32, ${wg}>;`;

/**
 * Backward sums per channel: dbeta = sum(g), dgamma = sum(g * xhat), g = dy (masked by y > 0
 * with relu). split = true writes (sum g, sum g*(x - mean)) partials [C, S, 2].
 */
export const backwardSumsKernel = memoKernel((vec: boolean, relu: boolean, hw: number, wg: number, split: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  const bind = [`@group(0) @binding(1) var<storage, read> dy: array<${T}>;`, `@group(0) @binding(2) var<storage, read> x: array<${T}>;`];
  if (relu) bind.push(`@group(0) @binding(3) var<storage, read> y: array<${T}>;`);
  bind.push(`@group(0) @binding(${bind.length + 1}) var<storage, read> saveMean: array<f32>;`);
  bind.push(`@group(0) @binding(${bind.length + 1}) var<storage, read> saveInvStd: array<f32>;`);
  if (split) bind.push(`@group(0) @binding(${bind.length + 1}) var<storage, read_write> part: array<f32>;`);
  else {
    bind.push(`@group(0) @binding(${bind.length + 1}) var<storage, read_write> dgamma: array<f32>;`);
    bind.push(`@group(0) @binding(${bind.length + 1}) var<storage, read_write> dbeta: array<f32>;`);
  }
  const code = `${paramsStruct(REDUCE_PARAMS)}
${bind.join('\n')}
${SUMS_SHARED(wg)}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  ${backwardSums(vec, relu, hw, wg)}
  if (lid == 0u) {
    ${
      split
        ? `let o = (c * params.S + wid.x) * 2u;
    part[o] = shG[0]; part[o + 1u] = shGX[0];`
        : `dbeta[c] = shG[0];
    dgamma[c] = shGX[0] * saveInvStd[c];`
    }
  }
}`;
  const inputs = (relu ? 5 : 4) as number;
  const storage: ('read' | 'read_write')[] = [...Array(inputs).fill('read'), ...(split ? ['read_write'] : ['read_write', 'read_write'])];
  return kernel(`batchnorm.backwardSums${relu ? 'Relu' : ''}${split ? 'Partial' : ''}`, storage, code);
});

/** The upstream gradient of unit `i`, through the ReLU (from its output y) with relu. */
const maskedGrad = (relu: boolean, T: string, i: string) => (relu ? reluGradWgsl(`dy[${i}]`, `y[${i}]`, T) : `dy[${i}]`);

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
  ${channelWalk(hw, wg, `let g = ${maskedGrad(relu, T, 'idx')};
    sg += g;
    sgx += g * (x[idx] - ${T}(mean));`)}
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
  const names = ['dy', 'x', ...(relu ? ['y'] : [])];
  const bind = names.map((nm, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${nm}: array<${T}>;`);
  const b0 = names.length + 1;
  bind.push(
    `@group(0) @binding(${b0}) var<storage, read> gamma: array<f32>;`,
    `@group(0) @binding(${b0 + 1}) var<storage, read> saveMean: array<f32>;`,
    `@group(0) @binding(${b0 + 2}) var<storage, read> saveInvStd: array<f32>;`,
    `@group(0) @binding(${b0 + 3}) var<storage, read_write> dgamma: array<f32>;`,
    `@group(0) @binding(${b0 + 4}) var<storage, read_write> dbeta: array<f32>;`,
    `@group(0) @binding(${b0 + 5}) var<storage, read_write> dx: array<${T}>;`,
  );
  const code = `${paramsStruct(REDUCE_PARAMS)}
${bind.join('\n')}
${SUMS_SHARED(wg)}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  ${backwardSums(vec, relu, hw, wg)}
  let inv = saveInvStd[c];
  let db = shG[0];
  let dg = shGX[0] * inv;
  if (lid == 0u) { dbeta[c] = db; dgamma[c] = dg; }
  let k = gamma[c] * inv;
  let a = -k * inv * dg / params.M;
  let b = -k * db / params.M;
  {${channelWalk(hw, wg, `let g = ${maskedGrad(relu, T, 'idx')};
    dx[idx] = ${dxOf(T, 'idx', 'mean')};`)}
  }
}`;
  return kernel(`batchnorm.backward${relu ? 'Relu' : ''}Fused`, [...names.map(() => 'read' as const), 'read', 'read', 'read', 'read_write', 'read_write', 'read_write'], code);
});

/** Sums the S backward partials of each channel into dbeta, dgamma. */
export const backwardCombineKernel = kernel(
  'batchnorm.backwardCombine',
  ['read', 'read', 'read_write', 'read_write'],
  `${paramsStruct(REDUCE_PARAMS)}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> saveInvStd: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
@compute @workgroup_size(64) fn main(${MAIN_ARGS}) {
  let c = ${flatId(64)};
  if (c >= params.C) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var s = 0u; s < params.S; s++) {
    let o = (c * params.S + s) * 2u;
    sg += part[o];
    sgx += part[o + 1u];
  }
  dbeta[c] = sg;
  dgamma[c] = sgx * saveInvStd[c];
}`,
);

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

const APPLY_PARAMS = ['N: u32', 'C: u32', 'eps: f32', 'invM: f32'];

function applyBindings(names: string[], T: string): string {
  const perUnit = new Set(['dy', 'x', 'y']);
  const binds = names.map((nm, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${nm}: array<${perUnit.has(nm) ? T : 'f32'}>;`);
  binds.push(`@group(0) @binding(${names.length + 1}) var<storage, read_write> out: array<${T}>;`);
  return binds.join('\n');
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
  const code = `${paramsStruct(APPLY_PARAMS)}
${applyBindings(names, T)}
@compute @workgroup_size(${APPLY_WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  ${prelude}
  let n0 = wid.x * ${nb}u;
  let count = min(${nb}u, params.N - n0) * ${hw}u;
  for (var j = lid; j < count; j += ${APPLY_WG}u) {
    let i = ((n0 + j / ${hw}u) * params.C + c) * ${hw}u + j % ${hw}u;
    ${unit}
  }
}`;
  return kernel(`batchnorm.${mode}`, [...names.map(() => 'read' as const), 'read_write'], code);
});
