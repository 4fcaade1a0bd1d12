// WGSL for BatchNorm2d (NCHW). Two kinds of kernel:
//
// - per-channel reductions (one workgroup per channel): the training statistics (per-invocation
//   Welford over vec4 mini-batches, merged across the workgroup with Chan's formula, so the
//   variance is exact to f32 rounding over any count) and the backward sums (dbeta, dgamma);
// - an elementwise apply pass (normalize, eval, dx) with a workgroup row per channel.
//
// A "unit" is a vec4f when H*W is a multiple of 4 (every ResNet20 shape), else one f32.

import { kernel, memoKernel, paramsStruct, MAIN_ARGS, flatId } from '../elementwise/launch.js';

export const STATS_WG = 64;
export const APPLY_WG = 64;
/** Units per invocation the apply pass aims for (it covers whole planes). */
export const APPLY_ITEMS = 16;

const sumOf = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4f(1.0))` : v);

/** Walk over channel c's units (n, q); the plane size `hw` is a constant, so `/` and `%` are cheap. */
function channelWalk(hw: number, body: string): string {
  return `
  let units = params.N * ${hw}u;
  for (var j = lid; j < units; j += ${STATS_WG}u) {
    let idx = ((j / ${hw}u) * params.C + c) * ${hw}u + j % ${hw}u;
    ${body}
  }`;
}

const STATS_PARAMS = ['N: u32', 'C: u32', 'HW: u32', 'M: f32', 'momentum: f32', 'eps: f32', 'unbias: f32'];

/** Batch mean / inverse std per channel; updates the running stats in place. */
export const statsKernel = memoKernel((vec: boolean, hw: number) => {
  const T = vec ? 'vec4f' : 'f32';
  const W = vec ? '4.0' : '1.0';
  const code = `${paramsStruct(STATS_PARAMS)}
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> saveMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> saveInvStd: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;
var<workgroup> shN: array<f32, ${STATS_WG}>;
var<workgroup> shMean: array<f32, ${STATS_WG}>;
var<workgroup> shM2: array<f32, ${STATS_WG}>;
@compute @workgroup_size(${STATS_WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  ${channelWalk(hw, `let v = x[idx];
    let bm = ${sumOf(vec, 'v')} * ${vec ? '0.25' : '1.0'};
    let d = v - ${T}(bm);
    cnt += ${W};
    let delta = bm - mean;
    let w = ${W} / cnt;
    mean += delta * w;
    m2 += ${sumOf(vec, 'd * d')} + delta * delta * ${W} * (1.0 - w);`)}
  shN[lid] = cnt; shMean[lid] = mean; shM2[lid] = m2;
  workgroupBarrier();
  for (var s = ${STATS_WG / 2}u; s > 0u; s >>= 1u) {
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
  }
  if (lid == 0u) {
    let m = shMean[0];
    let v = max(shM2[0] / params.M, 0.0);
    saveMean[c] = m;
    saveInvStd[c] = inverseSqrt(v + params.eps);
    runningMean[c] = (1.0 - params.momentum) * runningMean[c] + params.momentum * m;
    runningVar[c] = (1.0 - params.momentum) * runningVar[c] + params.momentum * v * params.unbias;
  }
}`;
  return kernel('batchnorm.stats', ['read', 'read_write', 'read_write', 'read_write', 'read_write'], code);
});

/** Backward sums per channel: dbeta = sum(g), dgamma = sum(g * xhat), g = dy (masked by y > 0 with relu). */
export const backwardSumsKernel = memoKernel((vec: boolean, relu: boolean, hw: number) => {
  const T = vec ? 'vec4f' : 'f32';
  const bind = [`@group(0) @binding(1) var<storage, read> dy: array<${T}>;`, `@group(0) @binding(2) var<storage, read> x: array<${T}>;`];
  if (relu) bind.push(`@group(0) @binding(3) var<storage, read> y: array<${T}>;`);
  let b = bind.length + 1;
  const code = `${paramsStruct(['N: u32', 'C: u32', 'HW: u32'])}
${bind.join('\n')}
@group(0) @binding(${b++}) var<storage, read> saveMean: array<f32>;
@group(0) @binding(${b++}) var<storage, read> saveInvStd: array<f32>;
@group(0) @binding(${b++}) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(${b++}) var<storage, read_write> dbeta: array<f32>;
var<workgroup> shG: array<f32, ${STATS_WG}>;
var<workgroup> shGX: array<f32, ${STATS_WG}>;
@compute @workgroup_size(${STATS_WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let mean = saveMean[c];
  var sg = ${T}(0.0);
  var sgx = ${T}(0.0);
  ${channelWalk(hw, `let g = ${relu ? `select(${T}(0.0), dy[idx], y[idx] > ${T}(0.0))` : 'dy[idx]'};
    sg += g;
    sgx += g * (x[idx] - ${T}(mean));`)}
  shG[lid] = ${sumOf(vec, 'sg')};
  shGX[lid] = ${sumOf(vec, 'sgx')};
  workgroupBarrier();
  for (var s = ${STATS_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { shG[lid] += shG[lid + s]; shGX[lid] += shGX[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    dbeta[c] = shG[0];
    dgamma[c] = shGX[0] * saveInvStd[c];
  }
}`;
  const storage = relu ? ['read', 'read', 'read', 'read', 'read', 'read_write', 'read_write'] : ['read', 'read', 'read', 'read', 'read_write', 'read_write'];
  return kernel(`batchnorm.backwardSums${relu ? 'Relu' : ''}`, storage as ('read' | 'read_write')[], code);
});

export type ApplyMode = 'train' | 'trainRelu' | 'eval' | 'backward' | 'backwardRelu';

/** Per-channel scalars (from c) and the per-unit statement (from i) of an apply mode. */
function applyBody(mode: ApplyMode, T: string): { names: string[]; prelude: string; unit: string } {
  if (mode === 'train' || mode === 'trainRelu') {
    return {
      names: ['x', 'gamma', 'beta', 'saveMean', 'saveInvStd'],
      prelude: `let s = gamma[c] * saveInvStd[c]; let m = saveMean[c]; let bt = beta[c];`,
      unit: `let r = (x[i] - ${T}(m)) * ${T}(s) + ${T}(bt); out[i] = ${mode === 'trainRelu' ? `max(r, ${T}(0.0))` : 'r'};`,
    };
  }
  if (mode === 'eval') {
    return {
      names: ['x', 'gamma', 'beta', 'runningMean', 'runningVar'],
      prelude: `let s = gamma[c] * inverseSqrt(runningVar[c] + params.eps); let sh = beta[c] - runningMean[c] * s;`,
      unit: `out[i] = x[i] * ${T}(s) + ${T}(sh);`,
    };
  }
  // dx = k * (g - dbeta/M - xhat * dgamma/M), xhat = (x - mean) * inv, k = gamma * inv:
  // dx = k * g + (x - mean) * a + b per channel. (x - mean) stays explicit: folding the mean
  // into b cancels catastrophically when |mean| >> std, off by 2e-3 on ResNet20's gradients.
  return {
    names: ['dy', 'x', ...(mode === 'backwardRelu' ? ['y'] : []), 'gamma', 'saveMean', 'saveInvStd', 'dgamma', 'dbeta'],
    prelude: `let inv = saveInvStd[c]; let k = gamma[c] * inv; let a = -k * inv * dgamma[c] * params.invM;
      let b = -k * dbeta[c] * params.invM; let m = saveMean[c];`,
    unit: `let g = ${mode === 'backwardRelu' ? `select(${T}(0.0), dy[i], y[i] > ${T}(0.0))` : 'dy[i]'};
      out[i] = ${T}(k) * g + (x[i] - ${T}(m)) * ${T}(a) + ${T}(b);`,
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
 * eval:            x, gamma, beta, runningMean, runningVar -> y
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
