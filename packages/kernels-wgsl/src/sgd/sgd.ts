// SGD with momentum, dampening, Nesterov and weight decay, PyTorch's exact rule, for many
// parameters per dispatch: up to SLOTS tensors bind to one kernel and a table in the uniform
// says where each one's range of workgroups starts (ranges are whole workgroups, so the
// branch that picks a tensor is uniform across each workgroup).

import { formatShape, runtime, type BufferRange, type Tensor } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel, type BindingDecl, type ParamType } from '../common/kernel.js';
import { checkF32, vecBinding } from '../elementwise/launch.js';
import { grid1d } from '../common/grid.js';

/** Hyperparameters of sgdStep, as PyTorch's torch.optim.SGD. */
export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening?: number;
  nesterov?: boolean;
  /** One value for every parameter, or one per parameter. */
  weightDecay: number | number[];
  /** True on the first step: the momentum buffer starts as the gradient (PyTorch's rule). */
  firstStep: boolean;
}

const WG = 256;

/** Units (vec4f where a tensor's size is a multiple of 4, else f32) per invocation. */
const ITEMS = 4;

// vec[s]: whether slot s binds array<vec4f>. Slot s owns workgroups [start_s, start_{s+1}),
// each covering WG * ITEMS units of it (lanes adjacent, ITEMS strides of WG).
const sgdKernel = memoKernel((vec: boolean[], useMomentum: boolean, nesterov: boolean) => {
  const slots = vec.length;
  const fields: Record<string, ParamType> = { lr: 'f32', momentum: 'f32', dampening: 'f32', first: 'u32' };
  for (let s = 0; s < slots; s++) Object.assign(fields, { [`start${s}`]: 'u32', [`n${s}`]: 'u32', [`wd${s}`]: 'f32' });
  const binds: Record<string, BindingDecl> = {};
  for (let s = 0; s < slots; s++) {
    const type = vec[s] ? 'vec4f' : 'f32';
    binds[`p${s}`] = { type, access: 'read_write' };
    binds[`g${s}`] = { type };
    if (useMomentum) binds[`m${s}`] = { type, access: 'read_write' };
  }
  const update = (s: number) => {
    const T = vec[s] ? 'vec4f' : 'f32';
    let body = `let base = (w - params.start${s}) * ${WG * ITEMS}u + lid;
    for (var k = 0u; k < ${ITEMS}u; k++) {
      let i = base + k * ${WG}u;
      if (i >= params.n${s}) { break; }
      let p = p${s}[i];
      var d = g${s}[i] + ${T}(params.wd${s}) * p;`;
    if (useMomentum) {
      body += `
      var buf = d;
      if (params.first == 0u) { buf = ${T}(params.momentum) * m${s}[i] + ${T}(1.0 - params.dampening) * d; }
      m${s}[i] = buf;
      d = ${nesterov ? `d + ${T}(params.momentum) * buf` : 'buf'};`;
    }
    body += `
      p${s}[i] = p - ${T}(params.lr) * d;
    }`;
    return body;
  };
  let chain = '';
  for (let s = slots - 1; s >= 0; s--) {
    chain += `${s === slots - 1 ? '' : ' else '}if (w >= params.start${s}) {\n    ${update(s)}\n  }`;
  }
  return defineKernel({
    name: `sgd.step${useMomentum ? (nesterov ? '.nesterov' : '.momentum') : ''}`,
    params: fields,
    bindings: binds,
    workgroupSize: WG,
    builtins: { wid: 'workgroup_id', nwg: 'num_workgroups', lid: 'local_invocation_index' },
    body: `  let w = wid.x + wid.y * nwg.x;
  ${chain}`,
  });
});

function checkArgs(ps: Tensor[], gs: Tensor[], ms: Tensor[], opts: SgdOptions, useMomentum: boolean): number[] {
  const k = 'sgdStep';
  if (gs.length !== ps.length)
    throw new KernelArgumentError(
      k,
      `got ${ps.length} params but ${gs.length} grads; pass one gradient per parameter.`,
    );
  if (useMomentum && ms.length !== ps.length) {
    throw new KernelArgumentError(
      k,
      `momentum ${opts.momentum} needs one momentum buffer per parameter: got ${ms.length} for ${ps.length} params.`,
    );
  }
  const wd = Array.isArray(opts.weightDecay) ? opts.weightDecay : ps.map(() => opts.weightDecay as number);
  if (wd.length !== ps.length)
    throw new KernelArgumentError(
      k,
      `weightDecay has ${wd.length} values for ${ps.length} params; pass one number or one per parameter.`,
    );
  ps.forEach((p, i) => {
    checkF32(k, `params[${i}]`, p);
    checkF32(k, `grads[${i}]`, gs[i]);
    if (!sameShape(p.shape, gs[i].shape)) {
      throw new KernelArgumentError(
        k,
        `params[${i}] ${formatShape(p.shape)} and grads[${i}] ${formatShape(gs[i].shape)} must have the same shape.`,
      );
    }
    if (useMomentum) {
      checkF32(k, `momentumBufs[${i}]`, ms[i]);
      if (!sameShape(p.shape, ms[i].shape)) {
        throw new KernelArgumentError(
          k,
          `params[${i}] ${formatShape(p.shape)} and momentumBufs[${i}] ${formatShape(ms[i].shape)} ` +
            'must have the same shape.',
        );
      }
    }
  });
  return wd;
}

/**
 * Updates params (and momentum buffers) in place: d = g + wd*p; buf = first ? d : m*buf + (1-damp)*d;
 * d = nesterov ? d + m*buf : buf; p -= lr*d.
 */
export function sgdStep(ps: Tensor[], gs: Tensor[], ms: Tensor[], opts: SgdOptions): void {
  const useMomentum = opts.momentum !== 0;
  const nesterov = !!opts.nesterov;
  if (nesterov && (!useMomentum || (opts.dampening ?? 0) !== 0)) {
    throw new KernelArgumentError(
      'sgdStep',
      'Nesterov momentum requires momentum > 0 and dampening 0 (as in PyTorch).',
    );
  }
  const wd = checkArgs(ps, gs, ms, opts, useMomentum);
  const per = useMomentum ? 3 : 2;
  const maxSlots = Math.max(1, Math.min(8, Math.floor(runtime().limits.maxStorageBuffersPerShaderStage / per)));
  // vec4 tensors and the rest go in separate dispatches, so a model needs few kernel variants.
  const live = ps.map((_, i) => i).filter((i) => ps[i].size > 0);
  const groups: number[][] = [];
  for (const part of [live.filter((i) => ps[i].size % 4 === 0), live.filter((i) => ps[i].size % 4 !== 0)]) {
    for (let at = 0; at < part.length; at += maxSlots) groups.push(part.slice(at, at + maxSlots));
  }
  for (const idx of groups) {
    const p: Record<string, number> = {
      lr: opts.lr,
      momentum: opts.momentum,
      dampening: opts.dampening ?? 0,
      first: opts.firstStep ? 1 : 0,
    };
    let start = 0;
    const bufs: Record<string, BufferRange> = {};
    const vec = idx.map((i) => ps[i].size % 4 === 0);
    idx.forEach((i, k) => {
      const units = vec[k] ? ps[i].size / 4 : ps[i].size;
      Object.assign(p, { [`start${k}`]: start, [`n${k}`]: units, [`wd${k}`]: wd[i] });
      start += Math.ceil(units / (WG * ITEMS));
      const bind = vec[k] ? vecBinding : (t: Tensor) => t.binding();
      bufs[`p${k}`] = bind(ps[i]);
      bufs[`g${k}`] = bind(gs[i]);
      if (useMomentum) bufs[`m${k}`] = bind(ms[i]);
    });
    sgdKernel(vec, useMomentum, nesterov).launch(bufs, p, grid1d(start, 1));
  }
}
