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
  launchKeys,
  sameLaunch,
  settingRuns,
  type FlatLaunch,
  type FlatSegment,
} from '../sgd/flat.js';
import { KeptTables } from '../common/kept-tables.js';

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

/** Distinct settings (adamSegmentWords: two vec4s each) one dispatch takes in its params. */
const SLOTS = 7;

// The settings travel in the dispatch's params, the table holds each segment's slot: a captured
// step replays the dispatch with new settings (the step count changes them every step).
const adamKernel = memoKernel((decoupled: boolean, amsgrad: boolean, maximize: boolean) =>
  defineKernel({
    name: `adam.flatStep${decoupled ? '.decoupled' : ''}${amsgrad ? '.amsgrad' : ''}${maximize ? '.maximize' : ''}`,
    params: { nw: 'u32', settings: `array<vec4f, ${2 * SLOTS}>` },
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
  let h0 = params.settings[2u * table[r + 3u]];
  let h1 = params.settings[2u * table[r + 3u] + 1u];
  let wd = h0.x;
  let stepSize = h0.y;
  let bc2sqrt = h0.z;
  let beta1 = h0.w;
  let omb1 = h1.x;
  let beta2 = h1.y;
  let omb2 = h1.z;
  let eps = h1.w;
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
  const b = flatBinding;
  const bound: Record<string, ReturnType<typeof b>> = { p: b(params), g: b(grads), m: b(expAvg), v: b(expAvgSq) };
  if (options.amsgrad) bound.vmax = b(maxExpAvgSq!);
  const kernel = adamKernel(options.decoupled, options.amsgrad, !!options.maximize);
  const runs = settingRuns(segments, (s) => adamSegmentWords(s, options.decoupled), SLOTS);
  launched.delete(segments);
  for (const run of runs) {
    const { words, nw, groups } = flatTable('adamFlatStep', buffers, run, NO_WORDS);
    if (nw > 0)
      kernel.launch({ table: adamTables.get(words), ...bound } as never, { nw, settings: run.settings }, groups);
    if (runs.length === 1 && nw > 0) launched.set(segments, { keys: launchKeys(run, NO_WORDS), nw, options });
  }
}

/** Adam's tables of the last steps. */
const adamTables = new KeptTables(8);
const NO_WORDS = () => [];

/** What one dispatch of adamFlatStep was made of, and its variant. */
export interface AdamFlatLaunch extends FlatLaunch {
  readonly options: AdamOptions;
}

const launched = new WeakMap<readonly AdamSegment[], AdamFlatLaunch>();

/** The dispatch that adamFlatStep's last call with this segment array made, if it made exactly one. */
export function adamFlatLaunched(segments: readonly AdamSegment[]): AdamFlatLaunch | undefined {
  return launched.get(segments);
}

/**
 * The params that `launch` (adamFlatLaunched) takes to do adamFlatStep's work on `segments` with
 * `options` now, when it differs from that work only in its params (the settings, step counts
 * included); else undefined. A captured training step replays the dispatch with them.
 */
export function adamFlatParams(
  segments: readonly AdamSegment[],
  options: AdamOptions,
  launch: AdamFlatLaunch,
): Uint8Array | undefined {
  const o = launch.options;
  if (o.decoupled !== options.decoupled || o.amsgrad !== options.amsgrad || !!o.maximize !== !!options.maximize)
    return undefined;
  checkSegments(segments);
  const runs = settingRuns(segments, (s) => adamSegmentWords(s, options.decoupled), SLOTS);
  if (!sameLaunch(launch, runs, NO_WORDS)) return undefined;
  return adamKernel(options.decoupled, options.amsgrad, !!options.maximize).pack({
    nw: launch.nw,
    settings: runs[0].settings,
  });
}
