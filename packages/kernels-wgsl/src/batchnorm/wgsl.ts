// WGSL for BatchNorm2d (NCHW). Two kinds of kernel:
//
// - per-channel reductions (one workgroup per channel): the training statistics (per-invocation
//   Welford over vec4 mini-batches, merged across the workgroup with Chan's formula, so the
//   variance is exact to f32 rounding over any count) and the backward sums (dbeta, dgamma);
// - a flat apply pass over every element (normalize, eval, dx). Channel indices are tracked
//   incrementally along each invocation's strided walk: integer division is scalarized on
//   CPU SIMD, so the loop does none.
//
// A "unit" is a vec4f when H*W is a multiple of 4 (every ResNet20 shape), else one f32.

import { kernel, memoKernel, paramsStruct, MAIN_ARGS, flatId } from '../elementwise/launch.js';

export const STATS_WG = 256;
export const APPLY_WG = 256;
export const APPLY_ITEMS = 4;

const sumOf = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4f(1.0))` : v);

/** Walk over a channel's units (n, q) in steps of STATS_WG without division in the loop. */
function channelWalk(body: string): string {
  return `
  let units = params.N * params.HW;
  let dn = ${STATS_WG}u / params.HW;
  let dq = ${STATS_WG}u % params.HW;
  var n = lid / params.HW;
  var q = lid % params.HW;
  for (var j = lid; j < units; j += ${STATS_WG}u) {
    let idx = (n * params.C + c) * params.HW + q;
    ${body}
    q += dq; n += dn;
    if (q >= params.HW) { q -= params.HW; n += 1u; }
  }`;
}

const STATS_PARAMS = ['N: u32', 'C: u32', 'HW: u32', 'M: f32', 'momentum: f32', 'eps: f32', 'unbias: f32'];

/** Batch mean / inverse std per channel; updates the running stats in place. */
export const statsKernel = memoKernel((vec: boolean) => {
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
  ${channelWalk(`let v = x[idx];
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
export const backwardSumsKernel = memoKernel((vec: boolean, relu: boolean) => {
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
  ${channelWalk(`let g = ${relu ? `select(${T}(0.0), dy[idx], y[idx] > ${T}(0.0))` : 'dy[idx]'};
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

/**
 * The flat pass. Bindings by mode (then the output):
 * train/trainRelu: x, gamma, beta, saveMean, saveInvStd -> y
 * eval:            x, gamma, beta, runningMean, runningVar -> y
 * backward:        dy, x, gamma, saveMean, saveInvStd, dgamma, dbeta -> dx   (backwardRelu adds y after x)
 */
export const applyKernel = memoKernel((mode: ApplyMode, vec: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  const bwd = mode === 'backward' || mode === 'backwardRelu';
  const names = bwd
    ? ['dy', 'x', ...(mode === 'backwardRelu' ? ['y'] : []), 'gamma', 'saveMean', 'saveInvStd', 'dgamma', 'dbeta']
    : ['x', 'gamma', 'beta', mode === 'eval' ? 'runningMean' : 'saveMean', mode === 'eval' ? 'runningVar' : 'saveInvStd'];
  const perUnit = new Set(['dy', 'x', 'y']);
  const binds = names.map((nm, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${nm}: array<${perUnit.has(nm) ? T : 'f32'}>;`);
  binds.push(`@group(0) @binding(${names.length + 1}) var<storage, read_write> out: array<${T}>;`);
  let body: string;
  if (mode === 'train' || mode === 'trainRelu') {
    body = `let s = gamma[c] * saveInvStd[c];
      let r = (x[i] - ${T}(saveMean[c])) * ${T}(s) + ${T}(beta[c]);
      out[i] = ${mode === 'trainRelu' ? `max(r, ${T}(0.0))` : 'r'};`;
  } else if (mode === 'eval') {
    body = `let s = gamma[c] * inverseSqrt(runningVar[c] + params.eps);
      out[i] = (x[i] - ${T}(runningMean[c])) * ${T}(s) + ${T}(beta[c]);`;
  } else {
    body = `let inv = saveInvStd[c];
      let g = ${mode === 'backwardRelu' ? `select(${T}(0.0), dy[i], y[i] > ${T}(0.0))` : 'dy[i]'};
      let xhat = (x[i] - ${T}(saveMean[c])) * ${T}(inv);
      out[i] = ${T}(gamma[c] * inv) * (g - ${T}(dbeta[c] * params.invM) - xhat * ${T}(dgamma[c] * params.invM));`;
  }
  const code = `${paramsStruct(['n: u32', 'stride: u32', 'C: u32', 'HW: u32', 'dq: u32', 'dc: u32', 'eps: f32', 'invM: f32'])}
${binds.join('\n')}
@compute @workgroup_size(${APPLY_WG}) fn main(${MAIN_ARGS}) {
  var i = ${flatId(APPLY_WG)};
  if (i >= params.n) { return; }
  var q = i % params.HW;
  var c = (i / params.HW) % params.C;
  for (var k = 0u; k < ${APPLY_ITEMS}u; k++) {
    if (i >= params.n) { return; }
    {
      ${body}
    }
    i += params.stride;
    q += params.dq;
    c += params.dc;
    if (q >= params.HW) { q -= params.HW; c += 1u; }
    if (c >= params.C) { c -= params.C; }
  }
}`;
  return kernel(`batchnorm.${mode}`, [...names.map(() => 'read' as const), 'read_write'], code);
});
