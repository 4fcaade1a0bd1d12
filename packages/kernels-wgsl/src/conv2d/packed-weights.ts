// Packed weights for the subgroup kernels' uniform-buffer path (SubgroupConfig.uboRows): the
// GEMM's A operand rearranged to one vec4 per (row m, channel c, kernel row ky) holding the
// kw <= 4 taps of that kernel row, zero-padded. Forward (m = output channel) and input gradient
// (m = input channel, the transposed weight) read the same weight tensor through the problem's
// strides: element (m, c, ky, kx) is w[m*wsm + c*wsc + ky*kw + kx].
//
// Why: on lavapipe a uniform load is a branch-free gather, a storage load a branchy per-lane
// one at about four times the cost, and one vec4 carries every tap of a kernel row. Repacking
// costs one small dispatch per convolution (the weights change every step).

import { runtime, Tensor } from '@wgtorch/tensor';
import { defineKernel } from '../common/kernel.js';
import { grid1d } from '../common/grid.js';
import type { ConvLike } from './gemm.js';

const WG = 64;

/** Bytes of one packed row (all channels and kernel rows of one m). */
export function packedRowBytes(p: ConvLike): number {
  return p.c * p.kh * 16;
}

/**
 * Rows per dispatch of the uniform-buffer path for `p`, or 0 where it does not apply: a chunk
 * of rows must fit one uniform binding, hold whole row groups of `rowsPerGroup`, and start at
 * an offset the device can bind.
 */
export function packedChunkRows(p: ConvLike, rowsPerGroup: number): number {
  if (p.kw > 4 || p.kh < 1) return 0;
  const limits = runtime().limits;
  const maxBytes = limits.maxUniformBufferBindingSize;
  const align = limits.minUniformBufferOffsetAlignment;
  const rowBytes = packedRowBytes(p);
  if (p.m * rowBytes <= maxBytes) return p.m;
  for (let r = Math.floor(p.m / rowsPerGroup) * rowsPerGroup; r >= rowsPerGroup; r -= rowsPerGroup) {
    if (p.m % r === 0 && r * rowBytes <= maxBytes && (r * rowBytes) % align === 0) return r;
  }
  return 0;
}

// One kernel for every shape: the strides come in the parameters, so a cold start (and a
// machine whose shader cache is empty) compiles it once rather than once per convolution.
const packKernel = defineKernel({
  name: 'conv2d.packWeights',
  params: { total: 'u32', kh: 'u32', c: 'u32', wsm: 'u32', wsc: 'u32', kw: 'u32' },
  bindings: { w: { type: 'f32' }, out: { type: 'vec4f', access: 'read_write' } },
  workgroupSize: WG,
  body: `  let i = gid.x + gid.y * (nwg.x * ${WG}u);
  if (i >= params.total) { return; }
  let ky = i % params.kh; let t = i / params.kh;
  let c = t % params.c; let m = t / params.c;
  let b = m * params.wsm + c * params.wsc + ky * params.kw;
  var v = vec4f(0.0);
  for (var kx = 0u; kx < params.kw; kx++) { v[kx] = w[b + kx]; }
  out[i] = v;`,
});

/** The packed A operand of `p` from weight tensor `w` (a new tensor the caller disposes). */
export function packWeights(w: Tensor, p: ConvLike): Tensor {
  const total = p.m * p.c * p.kh;
  const out = Tensor.empty([total * 4], 'f32', 'conv2d packed weights');
  packKernel.launch({ w, out }, { total, kh: p.kh, c: p.c, wsm: p.wsm, wsc: p.wsc, kw: p.kw }, grid1d(total, WG));
  return out;
}
