// GPU buffer pool: buffers are reused by size class instead of being created per tensor.
//
// A released buffer may still be read by commands recorded but not yet submitted. Work that
// the GPU orders after those commands (a kernel writing its output) may reuse it at once; a
// CPU upload (queue.writeBuffer, which runs before the pending commands are submitted) may
// only reuse buffers whose last use has been submitted. So released buffers wait in
// `released` until the next submit moves them to `free`.

// STORAGE | UNIFORM | COPY_SRC | COPY_DST. UNIFORM lets a kernel read a small tensor (a conv's
// packed weights) as a uniform buffer, which lavapipe loads far more cheaply than storage.
const STORAGE_USAGE = 0x0080 | 0x0040 | 0x0004 | 0x0008;

/** A pooled GPU buffer; `bytes` is its size class, at least what was asked for. */
export interface PooledBuffer {
  readonly id: number;
  readonly buffer: GPUBuffer;
  readonly bytes: number;
}

/** Rounds a byte count up to its size class: 256-byte steps up to 4 KiB, then quarter powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 16);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/** Counts of a BufferPool: live and cached buffers and bytes, hits and misses. */
export interface PoolStats {
  /** Bytes held by live tensors (acquired, not released). */
  liveBytes: number;
  /** Buffers held by live tensors (acquired, not released). */
  liveBuffers: number;
  /** Bytes in buffers waiting for reuse. */
  pooledBytes: number;
  /** Number of GPU buffers ever created by the pool (grows only on a pool miss). */
  created: number;
  /** acquire() calls served from the pool. */
  hits: number;
  /** acquire() calls that had to create a buffer. */
  misses: number;
}

/** GPU buffers reused by size class: tensors acquire from it and release to it instead of creating buffers. */
export class BufferPool {
  private free = new Map<number, PooledBuffer[]>();
  private released: PooledBuffer[] = [];
  private readonly releaseHooks = new WeakMap<GPUBuffer, () => void>();
  /** Buffers a captured graph binds but does not own: releasing one makes the graph stale. */
  private readonly pins = new Map<GPUBuffer, Set<() => void>>();
  private nextId = 1;
  private stats: PoolStats = { liveBytes: 0, liveBuffers: 0, pooledBytes: 0, created: 0, hits: 0, misses: 0 };
  private maxBufferSize: number;
  /** The device's maxStorageBufferBindingSize: the most bytes one kernel binding can hold. */
  readonly maxBindingBytes: number;

  constructor(private readonly device: GPUDevice) {
    this.maxBufferSize = device.limits.maxBufferSize;
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
  }

  /**
   * A buffer of at least `bytes`. With `forUpload`, only buffers whose previous use has been
   * submitted are reused (see the file comment).
   */
  acquire(bytes: number, forUpload = false): PooledBuffer {
    const cls = sizeClass(bytes);
    if (cls > this.maxBufferSize) {
      throw new RangeError(
        `BufferPool.acquire: ${bytes} bytes exceeds the device's maxBufferSize (${this.maxBufferSize}); ` +
          'use a smaller batch or split the tensor.',
      );
    }
    // GPU-written outputs take recently released buffers first, leaving the submitted ones to
    // uploads, which can use nothing else: otherwise a per-step upload misses every time.
    let buf: PooledBuffer | undefined;
    if (!forUpload) {
      const i = this.released.findIndex((b) => b.bytes === cls);
      if (i >= 0) buf = this.released.splice(i, 1)[0];
    }
    buf ??= this.free.get(cls)?.pop();
    if (buf) {
      this.stats.hits++;
      this.stats.pooledBytes -= cls;
    } else {
      this.stats.misses++;
      this.stats.created++;
      buf = { id: this.nextId++, buffer: this.device.createBuffer({ size: cls, usage: STORAGE_USAGE }), bytes: cls };
    }
    this.stats.liveBytes += cls;
    this.stats.liveBuffers++;
    return buf;
  }

  /** Whether an upload of `bytes` would have to wait for a submit to reuse a buffer (none free, one released). */
  uploadNeedsSubmit(bytes: number): boolean {
    const cls = sizeClass(bytes);
    return !this.free.get(cls)?.length && this.released.some((b) => b.bytes === cls);
  }

  /**
   * Calls `fn` once, when `buffer` next returns to the pool: to free what a kernel derived from
   * it and keeps (packed weights). One hook per buffer; a new one replaces the old.
   */
  whenReleased(buffer: GPUBuffer, fn: () => void): void {
    this.releaseHooks.set(buffer, fn);
  }

  /**
   * For a captured graph (graph.ts): takes `buffer` out of the pool if it waits there for reuse
   * and returns it, now held (live) by the caller; undefined if it is live elsewhere or not pooled.
   */
  take(buffer: GPUBuffer): PooledBuffer | undefined {
    let buf: PooledBuffer | undefined;
    const i = this.released.findIndex((b) => b.buffer === buffer);
    if (i >= 0) buf = this.released.splice(i, 1)[0];
    else {
      for (const list of this.free.values()) {
        const j = list.findIndex((b) => b.buffer === buffer);
        if (j >= 0) {
          buf = list.splice(j, 1)[0];
          break;
        }
      }
    }
    if (!buf) return undefined;
    this.stats.pooledBytes -= buf.bytes;
    this.stats.liveBytes += buf.bytes;
    this.stats.liveBuffers++;
    return buf;
  }

  /** Calls `onRelease` when `buffer` is next released (a graph binding it becomes stale); unpin() undoes it. */
  pin(buffer: GPUBuffer, onRelease: () => void): void {
    let set = this.pins.get(buffer);
    if (!set) this.pins.set(buffer, (set = new Set()));
    set.add(onRelease);
  }

  unpin(buffer: GPUBuffer, onRelease: () => void): void {
    const set = this.pins.get(buffer);
    set?.delete(onRelease);
    if (set?.size === 0) this.pins.delete(buffer);
  }

  /** Returns a buffer; it becomes reusable for uploads after the next submit. */
  release(buf: PooledBuffer): void {
    const pinned = this.pins.get(buf.buffer);
    if (pinned) {
      this.pins.delete(buf.buffer);
      for (const f of pinned) f();
    }
    const hook = this.releaseHooks.get(buf.buffer);
    if (hook) {
      this.releaseHooks.delete(buf.buffer);
      hook();
    }
    this.stats.liveBytes -= buf.bytes;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += buf.bytes;
    this.released.push(buf);
  }

  /** Called by the dispatcher after each submit. */
  onSubmit(): void {
    if (!this.released.length) return;
    const touched = new Set<PooledBuffer[]>();
    for (const b of this.released) {
      let list = this.free.get(b.bytes);
      if (!list) this.free.set(b.bytes, (list = []));
      list.push(b);
      touched.add(list);
    }
    this.released.length = 0;
    // A canonical order (by id), whatever the order of release: a training step that repeats
    // the same allocations then gets the same buffers every time and its bind groups come from
    // the dispatcher's cache. In release order the buffers rotated between steps, and a
    // ResNet20 step created 85 of its 290 bind groups anew (about 4 ms of CPU a step).
    for (const list of touched) list.sort((x, y) => x.id - y.id);
  }

  /** Destroys pooled (not live) buffers, e.g. after a phase with different shapes. */
  trim(): void {
    this.onSubmit();
    for (const list of this.free.values()) for (const b of list) b.buffer.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  destroyAll(): void {
    this.trim();
  }
}
