// Packed weights for the subgroup kernels' uniform-buffer path (SubgroupConfig.uboRows): the
// GEMM's A operand rearranged to one vec4 per (row m, channel c, kernel row ky) holding the
// kw <= 4 taps of that kernel row, zero-padded. Forward (m = output channel) and input gradient
// (m = input channel, the transposed weight) read the same weight tensor through the problem's
// strides: element (m, c, ky, kx) is w[m*wsm + c*wsc + ky*kw + kx].
//
// Why: on lavapipe a uniform load is a branch-free gather, a storage load a branchy per-lane
// one at about four times the cost, and one vec4 carries every tap of a kernel row.
//
// Packed forms are kept per weight buffer and remade only when that buffer has been written
// (the dispatcher's write stamp): then every form ever asked of the buffer is remade in one
// dispatch. An optimizer holds all parameters in one buffer, so a training step packs every
// convolution's weights, forward and transposed, once, at its first convolution.

import { formatShape, runtime, Tensor } from '@wgtorch/tensor';
import { defineKernel } from '../common/kernel.js';
import type { ConvLike } from './gemm.js';

const WG = 64;
/** u32 words per job in the job table. */
const JOB_WORDS = 8;

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

// One kernel for every shape and any number of packings: workgroup row y does job y of the
// table (source offset, destination vec4 offset, vec4 count, kh, c, wsm, wsc, kw), so a cold
// start compiles it once and a step records it once. An invocation packs the kh rows of one
// (m, c) pair: two integer divisions per pair, which a CPU adapter runs lane by lane.
const packKernel = defineKernel({
  name: 'conv2d.packWeights',
  params: {},
  bindings: {
    jobs: { type: 'u32' },
    w: { type: 'f32' },
    out: { type: 'vec4f', access: 'read_write' },
  },
  workgroupSize: WG,
  builtins: { gid: 'global_invocation_id', nwg: 'num_workgroups', wid: 'workgroup_id' },
  body: `  let j = wid.y * ${JOB_WORDS}u;
  let src = jobs[j]; let dst = jobs[j + 1u]; let total = jobs[j + 2u]; let kh = jobs[j + 3u];
  let c = jobs[j + 4u]; let wsm = jobs[j + 5u]; let wsc = jobs[j + 6u]; let kw = jobs[j + 7u];
  for (var t = gid.x; t < total / kh; t += nwg.x * ${WG}u) {
    let b0 = src + (t / c) * wsm + (t % c) * wsc;
    for (var ky = 0u; ky < kh; ky++) {
      let b = b0 + ky * kw;
      var v = vec4f(0.0);
      for (var kx = 0u; kx < kw; kx++) { v[kx] = w[b + kx]; }
      out[dst + t * kh + ky] = v;
    }
  }`,
});

/** One packed form of weights in a buffer: where it reads, where it writes, and how. */
interface PackJob {
  /** First source element in the buffer. */
  src: number;
  /** First vec4 of the packed form in the cache's output. */
  dst: number;
  /** vec4s: m * c * kh. */
  total: number;
  p: ConvLike;
}

/** The packed forms made from one weight buffer, and the write stamp they were made at. */
interface BufferPacks {
  /** Every form asked of the buffer, by its source offset and layout, in the order first asked. */
  jobs: Map<string, PackJob>;
  /** vec4s allotted in `out`. */
  used: number;
  out: Tensor | undefined;
  table: Tensor<'u32'> | undefined;
  /** The source buffer's write stamp when `out` was made; -1: remake. */
  stamp: number;
  /** The dispatcher's captureCount when `out` was made. */
  capture: number;
}

const caches = new WeakMap<GPUBuffer, BufferPacks>();

/**
 * The packed A operand of `p` from weight tensor `w`: a view the caller disposes, valid until
 * the weight buffer is next written (the caller uses it at once). Made with every other form
 * asked of the same buffer, in one dispatch, whenever the buffer has changed since.
 */
export function packWeights(w: Tensor, p: ConvLike): Tensor {
  const rt = runtime();
  const bytes = w.buffer.size; // the kernel binds the whole buffer: any of its weights can be packed
  if (bytes > rt.limits.maxStorageBufferBindingSize) {
    throw new Error(
      `conv2d.packWeights: weight ${formatShape(w.shape)} sits in a buffer of ${bytes} bytes, over the device's ` +
        `maxStorageBufferBindingSize of ${rt.limits.maxStorageBufferBindingSize}; keep weights in smaller tensors.`,
    );
  }
  const buffer = w.buffer;
  let cache = caches.get(buffer);
  if (!cache) {
    cache = { jobs: new Map(), used: 0, out: undefined, table: undefined, stamp: -1, capture: -1 };
    caches.set(buffer, cache);
    const dropped = cache;
    rt.pool.whenReleased(buffer, () => {
      caches.delete(buffer);
      dropped.out?.dispose();
      dropped.table?.dispose();
    });
  }
  const src = w.byteOffset / 4;
  const key = `${src}:${p.m}:${p.c}:${p.kh}:${p.kw}:${p.wsm}:${p.wsc}`;
  let job = cache.jobs.get(key);
  if (!job) {
    // Each form starts where a uniform binding can: the conv kernels bind it in chunks of rows.
    const align = Tensor.segmentAlignment() / 4;
    job = { src, dst: cache.used, total: p.m * p.c * p.kh, p };
    cache.used += Math.ceil(job.total / align) * align;
    cache.jobs.set(key, job);
    cache.table?.dispose();
    cache.table = undefined;
    cache.stamp = -1;
  }
  const stamp = rt.dispatcher.writeStamp(buffer);
  // A captured graph must pack for itself: its replays follow writes the stamp cannot see now.
  const d = rt.dispatcher;
  if (cache.stamp !== stamp || (d.capturing && cache.capture !== d.captureCount)) {
    repack(cache, w);
    cache.stamp = stamp;
    cache.capture = d.captureCount;
  }
  return cache.out!.segment(job.dst * 4, [job.total * 4]);
}

/** Makes every packed form of the buffer in one dispatch. */
function repack(cache: BufferPacks, w: Tensor): void {
  if (!cache.out || cache.out.size < cache.used * 4) {
    // Doubling: a model's first step adds its forms one by one, and each size left behind stays pooled.
    const size = Math.max(cache.used * 4, 2 * (cache.out?.size ?? 0));
    cache.out?.dispose(); // views handed out earlier keep their storage
    cache.out = Tensor.empty([size], 'f32', 'conv2d packed weights');
  }
  if (!cache.table) {
    const words = new Uint32Array(cache.jobs.size * JOB_WORDS);
    [...cache.jobs.values()].forEach(({ src, dst, total, p }, i) =>
      words.set([src, dst, total, p.kh, p.c, p.wsm, p.wsc, p.kw], i * JOB_WORDS),
    );
    cache.table = Tensor.fromArray(words, [words.length], 'u32');
  }
  const most = Math.max(...[...cache.jobs.values()].map((j) => j.total / j.p.kh));
  const whole = { buffer: w.buffer, offset: 0, size: w.buffer.size };
  packKernel.launch({ jobs: cache.table, w: whole, out: cache.out }, {}, [
    Math.min(Math.ceil(most / WG), 4096),
    cache.jobs.size,
  ]);
}
