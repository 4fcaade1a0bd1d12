// Multi-tensor optimizer updates in ONE dispatch: every parameter of a step lives in the same
// flat buffers (params, grads, and the optimizer's state), each at its segment's offset. A
// table holds one segment index per workgroup and then one record per segment (its offset,
// length, first workgroup and settings slot), so a workgroup finds its segment with one load and
// every branch on a segment's settings is uniform across it. The settings themselves travel in
// the dispatch's params (settingRuns).
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
/** 32-bit words per segment record: offset4, n4, first workgroup, settings slot, then 2 kernel-specific words. */
export const FLAT_RECORD = 6;

/**
 * WGSL that binds `w` (the workgroup), `r` (its record's first word in `table`) and `base`
 * (the lane's first vec4 within the segment); workgroups past the last return (whole
 * workgroups, so no lane mask follows); record word k is `table[r + k]`.
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
 * Checks the flat buffers and a run's segments; returns the table's words (upload them as a u32
 * tensor), the workgroup count and grid. A record holds the segment's slot (settingRuns) and
 * `words(s)`, its kernel-specific words (FLAT_RECORD).
 */
export function flatTable<S extends FlatSegment>(
  kernel: string,
  buffers: Record<string, Tensor>,
  run: SettingRun<S>,
  words: (s: S) => readonly number[],
): { words: Uint32Array; nw: number; groups: [number, number] } {
  const segments = run.segments;
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
  for (let k = 0; k < segments.length; k++) {
    const s = segments[k];
    words32.fill(k, starts[k], starts[k + 1] ?? nw);
    const r = nw + k * FLAT_RECORD;
    words32[r] = s.offset / 4;
    words32[r + 1] = Math.ceil(s.size / 4);
    words32[r + 2] = starts[k];
    words32[r + 3] = run.slots[k];
    words32.set(words(s), r + 4);
  }
  return { words: words32, nw, groups: grid1d(Math.max(nw, 1), 1) };
}

/** A flat buffer bound as array<vec4f> (the pool rounds buffers up to 16 bytes). */
export const flatBinding = vecBinding;

/**
 * Segments in runs of at most `slots` distinct settings, one dispatch a run: each segment's slot
 * in its run, and the run's settings (`settingsOf` gives a segment's, a whole number of vec4s),
 * padded to `slots` of them. The settings travel in a dispatch's params, so the table, which
 * holds only slots, stays the same while a schedule changes the learning rate.
 */
export function settingRuns<S>(
  segments: readonly S[],
  settingsOf: (s: S) => readonly number[],
  slots: number,
): SettingRun<S>[] {
  const runs: SettingRun<S>[] = [];
  let run: SettingRun<S> = { segments: [], slots: [], settings: [] };
  let width = 0;
  for (const s of segments) {
    const v = settingsOf(s);
    width = v.length;
    const h = run.settings;
    let slot = -1;
    for (let j = 0; j < h.length && slot < 0; j += width) {
      let i = 0;
      while (i < width && h[j + i] === v[i]) i++;
      if (i === width) slot = j / width;
    }
    if (slot < 0 && h.length === slots * width) {
      runs.push(run);
      run = { segments: [], slots: [], settings: [] };
    }
    if (slot < 0) {
      slot = run.settings.length / width;
      run.settings.push(...v);
    }
    run.segments.push(s);
    run.slots.push(slot);
  }
  runs.push(run);
  for (const r of runs) while (r.settings.length < slots * width) r.settings.push(0);
  return runs;
}

export interface SettingRun<S> {
  segments: S[];
  slots: number[];
  settings: number[];
}

/** What one dispatch of a flat kernel was made of: per segment its offset, size, slot and other table words. */
export interface FlatLaunch {
  readonly keys: readonly number[];
  readonly nw: number;
}

/** The keys of a run's dispatch (FlatLaunch); `words(s)` gives a segment's table words besides its slot. */
export function launchKeys<S extends FlatSegment>(run: SettingRun<S>, words: (s: S) => readonly number[]): number[] {
  return run.segments.flatMap((s, i) => [s.offset, s.size, run.slots[i], ...words(s)]);
}

/** Whether `segments` in one run would make the dispatch that `launch` was (launchKeys equal). */
export function sameLaunch<S extends FlatSegment>(
  launch: FlatLaunch,
  runs: readonly SettingRun<S>[],
  words: (s: S) => readonly number[],
): boolean {
  if (runs.length !== 1) return false;
  const { segments, slots } = runs[0];
  const keys = launch.keys;
  let j = 0;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (keys[j++] !== s.offset || keys[j++] !== s.size || keys[j++] !== slots[i]) return false;
    for (const w of words(s)) if (keys[j++] !== w) return false;
  }
  return j === keys.length;
}

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
  let h = params.hyper[table[r + 3u]];
  let lr = h.x;
  let wd = h.y;
  let momentum = h.z;
  let dampening = h.w;
  let first = table[r + 4u];
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

/** What one dispatch of sgdFlatStep was made of, and whether it bound momentum buffers. */
export interface SgdFlatLaunch extends FlatLaunch {
  readonly momentum: boolean;
}

/** The last call's dispatch by segment array, where it made exactly one. */
const launched = new WeakMap<readonly SgdSegment[], SgdFlatLaunch>();
const sgdSettings = (s: SgdSegment) => [s.lr, s.weightDecay, s.momentum, s.dampening];
const sgdWords = (s: SgdSegment) => [+s.firstStep, +s.nesterov];

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
  const runs = settingRuns(segments, sgdSettings, HYPER_SLOTS);
  launched.delete(segments);
  for (const run of runs) {
    const { words, nw, groups } = flatTable(k, buffers, run, sgdWords);
    if (nw > 0) sgdFlatKernel.launch({ table: sgdTables.get(words), ...bound }, { nw, hyper: run.settings }, groups);
    if (runs.length === 1 && nw > 0)
      launched.set(segments, { keys: launchKeys(run, sgdWords), nw, momentum: !!momentumBufs });
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
  if (!last.momentum && segments.some((s) => s.momentum !== 0)) return undefined;
  const runs = settingRuns(segments, sgdSettings, HYPER_SLOTS);
  return sameLaunch(last, runs, sgdWords) ? sgdFlatKernel.pack({ nw: last.nw, hyper: runs[0].settings }) : undefined;
}
