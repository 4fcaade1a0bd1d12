// The weight gradient's split reduction, batched: a weight gradient computed as `parts` partial
// sums (one per slice of the batch's pixels) is summed later, together with every other one
// recorded since, in one dispatch. Partial sums and results live in two shared buffers of the
// open batch; each result is a segment of the second. The dispatcher records the batch before
// anything touches a result (Dispatcher.defer), and at the latest at the next submit, so a
// backward pass's reductions cost one dispatch instead of one per convolution.

import { runtime, Tensor, type BufferRange, type Runtime } from '@wgtorch/tensor';
import { defineKernel } from '../common/kernel.js';
import { KeptTables } from '../common/kept-tables.js';

const WG = 64;
const JOB_WORDS = 4;

// Row y of the grid sums job y (partials offset, result offset, length, parts) in the order of
// the one-convolution reduction before it: four running sums over the parts, then pairs.
const reduceKernel = defineKernel({
  name: 'conv2d.weightGrad.reduce',
  params: {},
  bindings: {
    jobs: { type: 'u32' },
    part: { type: 'f32' },
    out: { type: 'f32', access: 'read_write' },
  },
  workgroupSize: WG,
  builtins: { gid: 'global_invocation_id', nwg: 'num_workgroups', wid: 'workgroup_id' },
  body: `  let j = wid.y * ${JOB_WORDS}u;
  let src = jobs[j]; let dst = jobs[j + 1u]; let len = jobs[j + 2u]; let parts = jobs[j + 3u];
  for (var i = gid.x; i < len; i += nwg.x * ${WG}u) {
    var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
    var z = 0u;
    for (; z + 4u <= parts; z += 4u) {
      s0 += part[src + z * len + i];
      s1 += part[src + (z + 1u) * len + i];
      s2 += part[src + (z + 2u) * len + i];
      s3 += part[src + (z + 3u) * len + i];
    }
    for (; z < parts; z++) { s0 += part[src + z * len + i]; }
    out[dst + i] = (s0 + s1) + (s2 + s3);
  }`,
});

interface Batch {
  rt: Runtime;
  parts: Tensor;
  outs: Tensor;
  partsUsed: number;
  outsUsed: number;
  /** JOB_WORDS per job. */
  words: number[];
  longest: number;
}

let open: Batch | undefined;
/** The smallest buffers a batch takes, in elements. */
const MIN_CAPACITY = { parts: 1 << 18, outs: 1 << 16 };
/**
 * Elements of the next batch's buffers: what the last run of batches held (batches that filled
 * up, then one recorded because its results were used), so a training step that repeats fits
 * one batch from its second step on, and a smaller one (another batch size) shrinks them again.
 */
const capacity = { ...MIN_CAPACITY };
/** Elements held by the batches recorded since the last one that did not fill up. */
const run = { parts: 0, outs: 0 };
/**
 * The latest job tables, reused while the jobs repeat (every step of a training loop; a step may
 * reduce in more than one batch).
 */
const tables = new KeptTables(4);

/**
 * Room for a weight gradient of `shape` (len elements) summed from `parts` partial sums: the
 * range to write the partial sums to (part p of element i at p * len + i), and the result, a
 * tensor whose values appear once the batch is recorded (before anything reads them).
 */
export function reduceLater(shape: readonly number[], len: number, parts: number): { part: BufferRange; dw: Tensor } {
  const align = Tensor.segmentAlignment();
  const partLen = Math.ceil((len * parts) / align) * align;
  const outLen = Math.ceil(len / align) * align;
  if (open && open.rt !== runtime()) open = undefined; // a runtime destroyed since
  if (open && (open.partsUsed + partLen > open.parts.size || open.outsUsed + outLen > open.outs.size)) {
    capacity.parts = Math.max(capacity.parts, 2 * open.parts.size);
    capacity.outs = Math.max(capacity.outs, 2 * open.outs.size);
    recordBatch(open, true);
  }
  const b = open ?? openBatch(partLen, outLen);
  const part = { buffer: b.parts.buffer, offset: b.partsUsed * 4, size: len * parts * 4 };
  const dw = b.outs.segment(b.outsUsed, shape);
  b.words.push(b.partsUsed, b.outsUsed, len, parts);
  b.partsUsed += partLen;
  b.outsUsed += outLen;
  b.longest = Math.max(b.longest, len);
  return { part, dw };
}

function openBatch(partLen: number, outLen: number): Batch {
  const maxElems = runtime().limits.maxStorageBufferBindingSize / 4;
  const parts = Tensor.empty(
    [Math.min(maxElems, Math.max(capacity.parts, partLen))],
    'f32',
    'conv2d.weightGrad partials',
  );
  const outs = Tensor.empty([Math.min(maxElems, Math.max(capacity.outs, outLen))], 'f32', 'conv2d.weightGrad');
  const b: Batch = { rt: runtime(), parts, outs, partsUsed: 0, outsUsed: 0, words: [], longest: 0 };
  open = b;
  runtime().dispatcher.defer(outs.buffer, () => recordBatch(b));
  return b;
}

/** Records the batch's reductions in one dispatch and lets go of its buffers (the results keep theirs). */
function recordBatch(b: Batch, full = false): void {
  runtime().dispatcher.undefer(b.outs.buffer);
  if (open === b) open = undefined;
  run.parts += b.partsUsed;
  run.outs += b.outsUsed;
  if (!full) {
    capacity.parts = Math.max(MIN_CAPACITY.parts, run.parts);
    capacity.outs = Math.max(MIN_CAPACITY.outs, run.outs);
    run.parts = run.outs = 0;
  }
  if (b.words.length) {
    const groups = [Math.min(Math.ceil(b.longest / WG), 4096), b.words.length / JOB_WORDS] as const;
    reduceKernel.launch({ jobs: tables.get(Uint32Array.from(b.words)), part: b.parts, out: b.outs }, {}, groups);
  }
  b.parts.dispose(); // reused by the pool only for work recorded after this reduction
  b.outs.dispose();
}
