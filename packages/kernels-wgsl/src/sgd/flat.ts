// Multi-tensor optimizer updates in ONE dispatch: every parameter of a step lives in the same
// flat buffers (params, grads, and the optimizer's state), each at its segment's offset. A
// table holds one segment index per workgroup and then one record per segment (its offset,
// length, first workgroup and settings), so a workgroup finds its segment with one load and
// every branch on a segment's settings is uniform across it.
// sgdFlatStep is here; adamFlatStep (adam/) uses the same table.

import { formatShape, Tensor } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { defineKernel } from '../common/kernel.js';
import { grid1d } from '../common/grid.js';
import { checkF32, vecBinding } from '../elementwise/launch.js';
import { KeptTables } from '../common/kept-tables.js';

/** A parameter's range in the flat buffers, in elements (offset a multiple of 4, for vec4 access). */
export interface FlatSegment {
  offset: number;
  size: number;
}

/** Lanes per workgroup of the flat kernels. */
export const FLAT_WG = 64;
/** vec4 units per lane: a workgroup covers FLAT_WG * FLAT_ITEMS vec4s (1024 floats) of one segment. */
export const FLAT_ITEMS = 4;
/** 32-bit words per segment record: offset4, n4, first workgroup, then 9 kernel-specific words. */
export const FLAT_RECORD = 12;

/**
 * WGSL that binds `w` (the workgroup), `r` (its record's first word in `table`) and `base`
 * (the lane's first vec4 within the segment); workgroups past the last return (whole
 * workgroups, so no lane mask follows). `rec(k)` reads record word k as u32.
 */
export const FLAT_PROLOGUE = `  let w = wid.x + wid.y * nwg.x;
  if (w >= params.nw) { return; }
  let r = params.nw + table[w] * ${FLAT_RECORD}u;
  let off = table[r];
  let n = table[r + 1u];
  let base = (w - table[r + 2u]) * ${FLAT_WG * FLAT_ITEMS}u + lid;`;

/** WGSL loop over the lane's vec4s of its segment; `body` sees `i`, the vec4 index into the flat buffers. */
export const flatLoop = (body: string) => `  for (var k = 0u; k < ${FLAT_ITEMS}u; k++) {
    let j = base + k * ${FLAT_WG}u;
    if (j >= n) { break; }
    let i = off + j;
${body}
  }`;

/** Builtins of the flat kernels. */
export const FLAT_BUILTINS = { wid: 'workgroup_id', nwg: 'num_workgroups', lid: 'local_invocation_index' } as const;

/**
 * Checks the flat buffers and segments; returns the table's words (upload them as a u32 tensor),
 * the workgroup count and grid. `words(s)` gives record words 3..11 of segment s (f32 values are
 * stored as their bits when listed in `floatWords`).
 */
export function flatTable(
  kernel: string,
  buffers: Record<string, Tensor>,
  segments: readonly FlatSegment[],
  words: (s: number) => readonly number[],
  floatWords: readonly number[],
): { words: Uint32Array; nw: number; groups: [number, number] } {
  const entries = Object.entries(buffers);
  const size = entries[0][1].size;
  for (const [name, t] of entries) {
    checkF32(kernel, name, t);
    if (t.size !== size) {
      throw new KernelArgumentError(
        kernel,
        `${name} ${formatShape(t.shape)} has ${t.size} elements, ${entries[0][0]} ${size}; ` +
          'every flat buffer must have the same size.',
      );
    }
  }
  let end = 0;
  const starts: number[] = [];
  let nw = 0;
  segments.forEach((s, k) => {
    if (!Number.isInteger(s.offset) || s.offset % 4 !== 0 || s.offset < end || s.size < 0 || s.offset + s.size > size) {
      throw new KernelArgumentError(
        kernel,
        `segment ${k} {offset: ${s.offset}, size: ${s.size}} must start at a multiple of 4, after segment ` +
          `${k - 1} (which ends at ${end}), and fit the flat buffers of ${size} elements.`,
      );
    }
    end = s.offset + s.size;
    starts.push(nw);
    nw += Math.ceil(s.size / 4 / (FLAT_WG * FLAT_ITEMS));
  });
  const words32 = new Uint32Array(nw + segments.length * FLAT_RECORD);
  const floats = new Float32Array(words32.buffer);
  const isFloat = new Array<boolean>(FLAT_RECORD).fill(false);
  for (const i of floatWords) isFloat[i] = true;
  for (let k = 0; k < segments.length; k++) {
    const s = segments[k];
    words32.fill(k, starts[k], starts[k + 1] ?? nw);
    const r = nw + k * FLAT_RECORD;
    words32[r] = s.offset / 4;
    words32[r + 1] = Math.ceil(s.size / 4);
    words32[r + 2] = starts[k];
    const extra = words(k);
    for (let i = 0; i < extra.length; i++) {
      if (isFloat[i + 3]) floats[r + 3 + i] = extra[i];
      else words32[r + 3 + i] = extra[i];
    }
  }
  return { words: words32, nw, groups: grid1d(Math.max(nw, 1), 1) };
}

/** A flat buffer bound as array<vec4f> (the pool rounds buffers up to 16 bytes). */
export const flatBinding = vecBinding;

/** Hyperparameters of one segment of sgdFlatStep (torch.optim.SGD's, per parameter). */
export interface SgdSegment extends FlatSegment {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** True on the parameter's first step with momentum: its buffer starts as the gradient (PyTorch's rule). */
  firstStep: boolean;
}

/** Distinct hyperparameter sets (lr, weight decay, momentum, dampening) one dispatch takes in its params. */
const HYPER_SLOTS = 15;

// The hyperparameters travel in the dispatch's params, not the table: a schedule changes the
// learning rate every step, and the table stays the same (kept on the GPU, KeptTables).
const sgdFlatKernel = defineKernel({
  name: 'sgd.flatStep',
  params: { nw: 'u32', hyper: `array<vec4f, ${HYPER_SLOTS}>` },
  bindings: {
    table: { type: 'u32' },
    p: { type: 'vec4f', access: 'read_write' },
    g: { type: 'vec4f' },
    m: { type: 'vec4f', access: 'read_write' },
  },
  workgroupSize: FLAT_WG,
  builtins: FLAT_BUILTINS,
  body: `${FLAT_PROLOGUE}
  let first = table[r + 3u];
  let h = params.hyper[table[r + 4u]];
  let lr = h.x;
  let wd = h.y;
  let momentum = h.z;
  let dampening = h.w;
  let nesterov = table[r + 5u];
${flatLoop(`    let pv = p[i];
    var d = g[i] + vec4f(wd) * pv;
    if (momentum != 0.0) {
      var buf = d;
      if (first == 0u) { buf = vec4f(momentum) * m[i] + vec4f(1.0 - dampening) * d; }
      m[i] = buf;
      if (nesterov != 0u) { d = d + vec4f(momentum) * buf; } else { d = buf; }
    }
    p[i] = pv - vec4f(lr) * d;`)}`,
});

/** SGD's tables of the last steps (one per optimizer and dispatch). */
const sgdTables = new KeptTables(8);
/**
 * Bound as the momentum buffers where no segment has momentum: never read, but WebGPU needs a
 * distinct buffer there. Kept, so such a step records one dispatch and nothing else.
 */
const placeholder = new KeptTables(1);
const PLACEHOLDER = new Uint32Array(4);

/** What one dispatch of sgdFlatStep was made of: per segment offset, size, first step, nesterov and slot. */
export interface SgdFlatLaunch {
  readonly keys: readonly number[];
  readonly nw: number;
  readonly momentum: boolean;
}

/** The last call's dispatch by segment array, where it made exactly one. */
const launched = new WeakMap<readonly SgdSegment[], SgdFlatLaunch>();

/**
 * SGD (PyTorch's rule, as sgdStep) for many parameters in one dispatch, in place on flat
 * buffers: params, grads and momentum buffers hold each parameter at its segment's offset.
 * Segments with momentum 0 leave `momentumBufs` alone (null when no segment has momentum). The
 * vec4 tail of a segment whose size is not a multiple of 4 is updated too: keep that padding
 * zero in all three buffers. More than 15 distinct settings (lr, weight decay, momentum,
 * dampening) take a dispatch per 15.
 */
export function sgdFlatStep(params: Tensor, grads: Tensor, momentumBufs: Tensor | null, segments: SgdSegment[]): void {
  const k = 'sgdFlatStep';
  segments.forEach((s, i) => {
    if (s.nesterov && (s.momentum <= 0 || s.dampening !== 0)) {
      throw new KernelArgumentError(k, `segment ${i}: Nesterov momentum requires momentum > 0 and dampening 0.`);
    }
    if (!momentumBufs && s.momentum !== 0) {
      throw new KernelArgumentError(k, `segment ${i} has momentum ${s.momentum}: pass the flat momentum buffers.`);
    }
  });
  const buffers: Record<string, Tensor> = momentumBufs ? { params, grads, momentumBufs } : { params, grads };
  const b = flatBinding;
  const bound = { p: b(params), g: b(grads), m: b(momentumBufs ?? placeholder.get(PLACEHOLDER)) };
  const runs = hyperRuns(segments);
  launched.delete(segments);
  for (const run of runs) {
    const { words, nw, groups } = flatTable(
      k,
      buffers,
      run.segments,
      (i) => [run.segments[i].firstStep ? 1 : 0, run.slots[i], run.segments[i].nesterov ? 1 : 0],
      [],
    );
    if (nw > 0) sgdFlatKernel.launch({ table: sgdTables.get(words), ...bound }, { nw, hyper: run.hyper }, groups);
    if (runs.length === 1 && nw > 0) launched.set(segments, { keys: keysOf(run), nw, momentum: !!momentumBufs });
  }
}

/** The dispatch that sgdFlatStep's last call with this segment array made, if it made exactly one. */
export function sgdFlatLaunched(segments: readonly SgdSegment[]): SgdFlatLaunch | undefined {
  return launched.get(segments);
}

/**
 * The params that `launch` (sgdFlatLaunched) takes to do sgdFlatStep's work on `segments` now,
 * when it differs from that work only in its params (the hyperparameters); else undefined. A
 * captured training step replays the dispatch with them (Dispatcher.rerunOnReplay).
 */
export function sgdFlatParams(segments: readonly SgdSegment[], last: SgdFlatLaunch): Uint8Array | undefined {
  const runs = hyperRuns(segments);
  if (runs.length !== 1 || (!last.momentum && segments.some((s) => s.momentum !== 0))) return undefined;
  const keys = last.keys;
  const run = runs[0];
  if (keys.length !== 5 * segments.length) return undefined;
  for (let i = 0, j = 0; i < segments.length; i++, j += 5) {
    const s = segments[i];
    if (
      keys[j] !== s.offset ||
      keys[j + 1] !== s.size ||
      keys[j + 2] !== +s.firstStep ||
      keys[j + 3] !== +s.nesterov ||
      keys[j + 4] !== run.slots[i]
    )
      return undefined;
  }
  return sgdFlatKernel.pack({ nw: last.nw, hyper: run.hyper });
}

function keysOf(run: { segments: SgdSegment[]; slots: number[] }): number[] {
  return run.segments.flatMap((s, i) => [s.offset, s.size, +s.firstStep, +s.nesterov, run.slots[i]]);
}

/**
 * The segments in runs of at most HYPER_SLOTS distinct settings: each segment's slot in its
 * run's `hyper` (4 numbers a slot, padded to the kernel's length).
 */
function hyperRuns(segments: readonly SgdSegment[]): { segments: SgdSegment[]; slots: number[]; hyper: number[] }[] {
  const runs: { segments: SgdSegment[]; slots: number[]; hyper: number[] }[] = [];
  let run = { segments: [] as SgdSegment[], slots: [] as number[], hyper: [] as number[] };
  for (const s of segments) {
    let slot = -1;
    for (let j = 0; j < run.hyper.length && slot < 0; j += 4) {
      const h = run.hyper;
      if (h[j] === s.lr && h[j + 1] === s.weightDecay && h[j + 2] === s.momentum && h[j + 3] === s.dampening)
        slot = j / 4;
    }
    if (slot < 0 && run.hyper.length === 4 * HYPER_SLOTS) {
      runs.push(run);
      run = { segments: [], slots: [], hyper: [] };
    }
    if (slot < 0) {
      slot = run.hyper.length / 4;
      run.hyper.push(s.lr, s.weightDecay, s.momentum, s.dampening);
    }
    run.segments.push(s);
    run.slots.push(slot);
  }
  runs.push(run);
  for (const r of runs) while (r.hyper.length < 4 * HYPER_SLOTS) r.hyper.push(0);
  return runs;
}
