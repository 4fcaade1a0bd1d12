// Captured graphs: a training step's GPU work recorded once and replayed at each step, so the
// JavaScript that built it (the autograd, the kernels' launchers) runs once instead of every step,
// as CUDA graphs do for PyTorch. WebGPU cannot reuse a compute pass, so a replay still encodes
// every dispatch, but from a flat list: pipeline, cached bind group, parameter bytes, grid.
//
// A graph binds the same buffers at every replay. Those that its function released by the end
// (intermediates) leave the pool and belong to the graph until dispose(); those still held by
// tensors (parameters, optimizer state, inputs the caller writes before each replay) are pinned:
// releasing one makes the graph stale, and replay() then refuses to run.

import { runtime, type Runtime } from './device.js';
import type { CapturedCommand, Dispatcher } from './dispatch.js';
import { DeviceError } from './errors.js';
import type { PooledBuffer } from './pool.js';

/**
 * Runs `fn` on the current runtime, recording its GPU work as usual, and returns it as a graph
 * whose replay() records the same work again without running `fn`.
 */
export function capture(fn: () => void): CapturedGraph {
  const rt = runtime();
  rt.checkErrors();
  return new CapturedGraph(rt, fn);
}

/**
 * GPU work recorded once by capture() and recorded again by replay() without the JavaScript
 * that made it; it holds the buffers it binds (see the file comment) until dispose().
 */
export class CapturedGraph {
  private readonly commands: CapturedCommand[];
  /** Whether the graph uploads (then replay tracks what each upload must wait for). */
  private readonly uploads: boolean;
  private stale: string | undefined;
  private disposed = false;
  private readonly owned: PooledBuffer[] = [];
  private readonly pinned: GPUBuffer[] = [];
  private readonly onPinnedRelease = () => {
    this.stale ??= 'a buffer it binds was released (a tensor it uses was disposed, or a cache was remade)';
  };

  /**
   * Runs `fn` (its work is recorded as usual) and keeps that work for replay(). `fn` must not
   * read back from the GPU; values that JavaScript changes between replays (a learning rate) must
   * reach the GPU through work recorded inside `Dispatcher.rerunOnReplay`, or through tensors the
   * caller writes before each replay.
   */
  constructor(
    private readonly rt: Runtime,
    fn: () => void,
  ) {
    const commands: CapturedCommand[] = [];
    rt.dispatcher.beginCapture(commands);
    try {
      fn();
    } finally {
      rt.dispatcher.endCapture();
    }
    this.uploads = commands.some((c) => c.kind === 'upload');
    const seen = new Set<GPUBuffer>();
    for (const c of commands) {
      for (const b of buffersOf(c)) {
        if (seen.has(b)) continue;
        seen.add(b);
        const own = rt.pool.take(b);
        if (own) this.owned.push(own);
        else {
          rt.pool.pin(b, this.onPinnedRelease);
          this.pinned.push(b);
        }
      }
    }
    const owned = new Set(this.owned.map((b) => b.buffer));
    this.commands = elideCopies(commands, owned, rt.dispatcher, rt.limits.minStorageBufferOffsetAlignment);
  }

  /** False once a buffer the graph binds was released, or after dispose(): capture again. */
  get valid(): boolean {
    return !this.stale && !this.disposed;
  }

  /** Whether the graph uploads data at each replay (captured writes from the CPU). */
  get hasUploads(): boolean {
    return this.uploads;
  }

  /** Dispatches the graph records at each replay. */
  get dispatches(): number {
    return this.commands.filter((c) => c.kind === 'dispatch').length;
  }

  /** Records the captured work again (not submitted: flush or a SubmitPacer submits it). */
  replay(): void {
    if (this.disposed) throw new DeviceError('CapturedGraph.replay: the graph was disposed; capture again.');
    if (this.stale) throw new DeviceError(`CapturedGraph.replay: the graph is stale: ${this.stale}; capture again.`);
    replay(this.rt.dispatcher, this.commands, this.uploads);
  }

  /** Returns the buffers the graph owns to the pool and unpins the others. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.pinned) this.rt.pool.unpin(b, this.onPinnedRelease);
    for (const b of this.owned) this.rt.pool.release(b);
    this.owned.length = 0;
    this.pinned.length = 0;
    this.commands.length = 0;
  }
}

/**
 * Records captured commands again, in order; after them the work is recorded, not submitted.
 * An upload (queue.writeBuffer, which runs before what is recorded) first submits what is
 * recorded only if that may use its buffer: `uploads` says whether to track that.
 */
function replay(d: Dispatcher, commands: readonly CapturedCommand[], uploads: boolean): void {
  if (d.capturing) throw new DeviceError('CapturedGraph.replay: not allowed while a capture is running.');
  // Buffers the recorded, unsubmitted commands use; `unknown` when some of those are not tracked.
  const touched = new Set<GPUBuffer>();
  let unknown = d.hasPendingWork;
  let submits = d.counters.submits;
  for (const c of commands) {
    if (uploads && d.counters.submits !== submits) {
      touched.clear();
      unknown = false;
      submits = d.counters.submits;
    }
    switch (c.kind) {
      case 'dispatch': {
        const live = c.live && c.live.params();
        if (c.live && !live) {
          c.live.fn();
          unknown = true;
          break;
        }
        if (d.hasDeferred) for (const b of c.buffers) d.settle(b);
        const params = live ? new Uint8Array(live.buffer, live.byteOffset, live.byteLength) : c.params;
        d.record(c.k, c.group, params, c.x, c.y, c.z, c.writes);
        if (uploads) for (const b of c.buffers) touched.add(b);
        break;
      }
      case 'copy':
        d.copy(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
        if (uploads) touched.add(c.src).add(c.dst);
        break;
      case 'clear':
        d.clear(c.buffer, c.offset, c.bytes);
        if (uploads) touched.add(c.buffer);
        break;
      case 'upload':
        if (d.hasPendingWork && (unknown || touched.has(c.buffer))) d.submitRecorded();
        d.upload(c.buffer, c.offset, c.data);
        break;
      case 'rerun':
        c.fn();
        unknown = true;
        break;
    }
  }
}

/**
 * Drops copies out of intermediates that one dispatch just wrote (a gradient copied into an
 * optimizer's flat buffer): that dispatch writes the copy's destination instead. Only where
 * nothing else could tell: the source is the graph's own and not used after the copy, the
 * dispatch binds it once, read_write, exactly the copied range, and nothing between the two
 * touches the destination range (a rerun could, so none may come between).
 */
function elideCopies(
  commands: CapturedCommand[],
  owned: ReadonlySet<GPUBuffer>,
  d: Dispatcher,
  align: number,
): CapturedCommand[] {
  const uses = new Map<GPUBuffer, number[]>();
  commands.forEach((c, i) => {
    for (const b of new Set(buffersOf(c))) {
      const list = uses.get(b);
      if (list) list.push(i);
      else uses.set(b, [i]);
    }
  });
  const dropped = new Set<number>();
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i];
    if (c.kind !== 'copy' || !owned.has(c.src) || c.src === c.dst || c.dstOffset % align !== 0) continue;
    const src = uses.get(c.src)!;
    const at = src.indexOf(i);
    if (at !== src.length - 1 || at === 0) continue;
    const j = src[at - 1];
    const p = commands[j];
    if (p.kind !== 'dispatch') continue;
    // WebGPU lets a dispatch write a buffer through several bindings, but not also read it.
    const storage = p.k.source.storage;
    if (p.buffers.some((b, s) => b === c.dst && storage[s] !== 'read_write')) continue;
    const slots = p.buffers.flatMap((b, s) => (b === c.src ? [s] : []));
    const r = p.ranges[slots[0]];
    const exact = slots.length === 1 && r.offset === c.srcOffset && r.size === c.bytes;
    if (!exact || storage[slots[0]] !== 'read_write') continue;
    const between = commands.slice(j + 1, i);
    if (between.some((m) => touches(m, c.dst, c.dstOffset, c.bytes))) continue;
    const ranges = p.ranges.slice();
    ranges[slots[0]] = { buffer: c.dst, offset: c.dstOffset, size: c.bytes };
    p.ranges = ranges;
    p.buffers = ranges.map((b) => b.buffer);
    p.writes = p.writes.map((w) => (w === c.src ? c.dst : w));
    p.group = d.bindGroup(p.k, ranges);
    dropped.add(i);
  }
  return commands.filter((_, i) => !dropped.has(i));
}

/** Whether command `c` may read or write bytes [offset, offset + bytes) of `buffer`. */
function touches(c: CapturedCommand, buffer: GPUBuffer, offset: number, bytes: number): boolean {
  const overlaps = (o: number, n: number) => o < offset + bytes && offset < o + n;
  switch (c.kind) {
    case 'dispatch':
      // A rerun with params may record other work at a replay.
      return !!c.live || c.ranges.some((r) => r.buffer === buffer && overlaps(r.offset, r.size));
    case 'copy':
      return (
        (c.src === buffer && overlaps(c.srcOffset, c.bytes)) || (c.dst === buffer && overlaps(c.dstOffset, c.bytes))
      );
    case 'clear':
    case 'upload':
      return c.buffer === buffer && overlaps(c.offset, c.kind === 'clear' ? c.bytes : c.data.byteLength);
    case 'rerun':
      return true;
  }
}

function buffersOf(c: CapturedCommand): GPUBuffer[] {
  switch (c.kind) {
    case 'dispatch':
      return c.buffers;
    case 'copy':
      return [c.src, c.dst];
    case 'clear':
    case 'upload':
      return [c.buffer];
    case 'rerun':
      return [];
  }
}
