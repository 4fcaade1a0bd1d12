// Adam and AdamW (torch.optim.Adam / AdamW, PyTorch's single-tensor rule) for every parameter
// of a step in ONE dispatch: params, grads and the moment estimates are flat buffers, each
// parameter at its segment's offset (the table of sgd/flat.ts). Per segment the host passes
// what depends on the step count: step size lr / (1 - beta1^t) and sqrt(1 - beta2^t).

import { Tensor } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import {
  FLAT_BUILTINS,
  FLAT_PROLOGUE,
  FLAT_WG,
  flatBinding,
  flatLoop,
  flatTable,
  type FlatSegment,
} from '../sgd/flat.js';

/** Hyperparameters of one segment (one parameter) of adamFlatStep. */
export interface AdamSegment extends FlatSegment {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The parameter's step count after this step (1 on its first update), for the bias corrections. */
  step: number;
}

/** Options shared by all segments: the variant of the rule. */
export interface AdamOptions {
  /** AdamW's decoupled decay p *= 1 - lr * wd (true), or Adam's L2 term g += wd * p (false). */
  decoupled: boolean;
  /** Keep the running maximum of the second moment and divide by it (needs maxExpAvgSq). */
  amsgrad: boolean;
  /** Ascend instead of descend (PyTorch's maximize). */
  maximize?: boolean;
}

/** WGSL: the AMSGrad denominator, from the running maximum of the second moment. */
const AMSGRAD_DENOM = `let vm = max(vmax[i], vv);
    vmax[i] = vm;
    let denom = sqrt(vm) / vec4f(bc2sqrt) + vec4f(eps);`;

const adamKernel = memoKernel((decoupled: boolean, amsgrad: boolean, maximize: boolean) =>
  defineKernel({
    name: `adam.flatStep${decoupled ? '.decoupled' : ''}${amsgrad ? '.amsgrad' : ''}${maximize ? '.maximize' : ''}`,
    params: { nw: 'u32' },
    bindings: {
      table: { type: 'u32' },
      p: { type: 'vec4f', access: 'read_write' },
      g: { type: 'vec4f' },
      m: { type: 'vec4f', access: 'read_write' },
      v: { type: 'vec4f', access: 'read_write' },
      ...(amsgrad ? { vmax: { type: 'vec4f', access: 'read_write' as const } } : {}),
    },
    workgroupSize: FLAT_WG,
    builtins: FLAT_BUILTINS,
    body: `${FLAT_PROLOGUE}
  let wd = bitcast<f32>(table[r + 3u]);
  let stepSize = bitcast<f32>(table[r + 4u]);
  let bc2sqrt = bitcast<f32>(table[r + 5u]);
  let beta1 = bitcast<f32>(table[r + 6u]);
  let omb1 = bitcast<f32>(table[r + 7u]);
  let beta2 = bitcast<f32>(table[r + 8u]);
  let omb2 = bitcast<f32>(table[r + 9u]);
  let eps = bitcast<f32>(table[r + 10u]);
${flatLoop(`    var gv = ${maximize ? '-g[i]' : 'g[i]'};
    var pv = p[i];
    ${decoupled ? 'pv = pv * vec4f(wd);' : 'if (wd != 0.0) { gv = gv + vec4f(wd) * pv; }'}
    let mv = vec4f(beta1) * m[i] + vec4f(omb1) * gv;
    let vv = vec4f(beta2) * v[i] + vec4f(omb2) * gv * gv;
    m[i] = mv;
    v[i] = vv;
    ${amsgrad ? AMSGRAD_DENOM : 'let denom = sqrt(vv) / vec4f(bc2sqrt) + vec4f(eps);'}
    p[i] = pv - vec4f(stepSize) * (mv / denom);`)}`,
  }),
);

/** What the host computes per segment, in float64 as PyTorch does: [wd or decay factor, step size, sqrt(bc2), ...]. */
export function adamSegmentWords(s: AdamSegment, decoupled: boolean): number[] {
  const bc1 = 1 - s.beta1 ** s.step;
  const bc2 = 1 - s.beta2 ** s.step;
  return [
    decoupled ? 1 - s.lr * s.weightDecay : s.weightDecay,
    s.lr / bc1,
    Math.sqrt(bc2),
    s.beta1,
    1 - s.beta1,
    s.beta2,
    1 - s.beta2,
    s.eps,
  ];
}

function checkSegments(segments: readonly AdamSegment[]): void {
  segments.forEach((s, i) => {
    if (!Number.isInteger(s.step) || s.step < 1)
      throw new KernelArgumentError('adamFlatStep', `segment ${i}: step ${s.step} must be an integer >= 1.`);
  });
}

/**
 * One Adam/AdamW step for every segment, in place: g = -g if maximize; AdamW p *= 1 - lr*wd,
 * Adam g += wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; vmax = max(vmax, v) with
 * amsgrad; p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps). The vec4 tail
 * of a segment whose size is not a multiple of 4 is updated too: keep that padding zero.
 */
export function adamFlatStep(
  params: Tensor,
  grads: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  segments: AdamSegment[],
  options: AdamOptions,
): void {
  if (options.amsgrad && !maxExpAvgSq)
    throw new KernelArgumentError('adamFlatStep', 'amsgrad needs the flat maxExpAvgSq buffer; pass it.');
  checkSegments(segments);
  const buffers: Record<string, Tensor> = { params, grads, expAvg, expAvgSq };
  if (options.amsgrad) buffers.maxExpAvgSq = maxExpAvgSq!;
  const words = (i: number) => adamSegmentWords(segments[i], options.decoupled);
  const flat = flatTable('adamFlatStep', buffers, segments, words, [3, 4, 5, 6, 7, 8, 9, 10]);
  const { nw, groups } = flat;
  if (nw === 0) return;
  // The step count changes the words every step: a table kept between steps would not be reused.
  const table = Tensor.fromArray(flat.words, [flat.words.length], 'u32');
  try {
    const b = flatBinding;
    const bufs: Record<string, Tensor | ReturnType<typeof b>> = {
      table,
      p: b(params),
      g: b(grads),
      m: b(expAvg),
      v: b(expAvgSq),
    };
    if (options.amsgrad) bufs.vmax = b(maxExpAvgSq!);
    adamKernel(options.decoupled, options.amsgrad, !!options.maximize).launch(bufs as never, { nw }, groups);
  } finally {
    table.dispose();
  }
}
