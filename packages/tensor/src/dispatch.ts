// Recording and submitting compute work.
//
// Every kernel dispatch is recorded into one shared command encoder (one compute pass kept open
// across dispatches; WebGPU orders storage accesses between dispatches) and submitted in
// batches. Per-dispatch parameters go into a uniform ring with dynamic offsets, written with one
// queue.writeBuffer per submit, so a dispatch allocates no GPU memory. Pipelines are compiled
// once per shader and cached; bind groups are cached by the buffers they bind. A readback is
// the only point where the CPU waits for the GPU.

import { DeviceError } from './errors.js';
import { waitQuietly } from './quiet-wait.js';

/**
 * How a kernel binds its buffers, in order from @binding(1): as storage, or ('uniform') as a
 * uniform buffer (at most maxUniformBufferBindingSize bytes, offsets aligned to
 * minUniformBufferOffsetAlignment).
 */
export type StorageAccess = 'read' | 'read_write' | 'uniform';

/**
 * A compute kernel: WGSL source plus its binding layout. Binding 0 of group 0 is always the
 * uniform parameter block (`var<uniform> params: Params` in WGSL; it may be left undeclared
 * when a kernel takes no parameters); storage buffers follow at bindings 1, 2, ...
 */
export interface KernelSource {
  /** Name for errors and profiles, e.g. 'conv2d.forward'. */
  readonly name: string;
  readonly code: string;
  readonly storage: readonly StorageAccess[];
  readonly entryPoint?: string;
}

/** A buffer range bound to one storage binding. */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  readonly offset?: number;
  readonly size: number;
}

/** A kernel compiled for the device: its pipeline and bind group layout, cached by source. */
export interface CompiledKernel {
  readonly source: KernelSource;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly id: number;
}

/** One command of a captured graph, with what it binds (graph.ts keeps those buffers alive). */
export type CapturedCommand =
  | {
      kind: 'dispatch';
      k: CompiledKernel;
      group: GPUBindGroup;
      params: Uint8Array | undefined;
      x: number;
      y: number;
      z: number;
      /** The bindings, in order; `buffers` their buffers. */
      ranges: Required<BufferRange>[];
      buffers: GPUBuffer[];
      writes: GPUBuffer[];
      /** A rerun with params (rerunOnReplay): at a replay, this dispatch with params(), or fn() live. */
      live?: { params: () => ArrayBufferView | undefined; fn: () => void };
    }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number }
  | { kind: 'clear'; buffer: GPUBuffer; offset: number; bytes: number }
  | { kind: 'upload'; buffer: GPUBuffer; offset: number; data: Uint8Array }
  | { kind: 'rerun'; fn: () => void };

/** Bytes reserved per dispatch in the uniform ring (the WebGPU offset alignment). */
const PARAM_STRIDE = 256;
const RING_SLOTS = 2048;
/** Dispatches per submit before a batch is sent on its own. */
const MAX_DISPATCHES_PER_SUBMIT = 1024;

interface ProfileEntry {
  name: string;
  queryIndex: number;
}

/** GPU time of one profiled dispatch, by kernel name. */
export interface KernelTiming {
  name: string;
  ms: number;
}

/** What the dispatcher needs of its runtime (device.ts's Runtime, which owns the dispatcher). */
export interface DispatchHost {
  readonly device: GPUDevice;
  readonly pool: { onSubmit(): void };
  checkErrors(): void;
}

/** Records kernel dispatches and copies into one command encoder and submits them in batches. */
export class Dispatcher {
  private readonly device: GPUDevice;
  private readonly kernels = new Map<string, CompiledKernel>();
  private readonly kernelsBySource = new WeakMap<KernelSource, CompiledKernel>();
  private nextKernelId = 1;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly ring: GPUBuffer;
  private readonly ringStaging = new ArrayBuffer(PARAM_STRIDE * RING_SLOTS);
  private readonly ringBytes = new Uint8Array(this.ringStaging);
  private readonly dynamicOffset = [0];
  private ringUsed = 0;
  private dispatchesInBatch = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly stagingFree: GPUBuffer[] = [];
  /** Counters for tests and benchmarks. */
  readonly counters = { dispatches: 0, submits: 0, readbacks: 0, pipelinesCompiled: 0, bindGroupsCreated: 0 };

  // Optional GPU-timestamp profiling: one pass per dispatch, begin/end timestamps.
  private profiling = false;
  private querySet: GPUQuerySet | undefined;
  private queryCapacity = 0;
  private profileEntries: ProfileEntry[] = [];
  private profileResults: Promise<KernelTiming[]>[] = [];
  private readonly afterSubmit: (() => void)[] = [];
  private readonly writeStamps = new WeakMap<GPUBuffer, number>();
  private nextWriteStamp = 1;
  /** Work that will write a buffer but is not recorded yet (defer()), by buffer. */
  private readonly deferred = new Map<GPUBuffer, () => void>();
  /** The commands of the graph being captured (beginCapture()). */
  private log: CapturedCommand[] | undefined;
  private captures = 0;

  constructor(private readonly rt: DispatchHost) {
    this.device = rt.device;
    this.ring = this.device.createBuffer({
      label: 'params-ring',
      size: PARAM_STRIDE * RING_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** The compiled pipeline for a kernel source, compiled on first use. */
  kernel(source: KernelSource): CompiledKernel {
    // Kernel sources are memoized objects: look them up by identity first. Building the string
    // key (the whole WGSL text) on every dispatch was 11% of the CPU time of recording a step.
    const byObject = this.kernelsBySource.get(source);
    if (byObject) return byObject;
    const key = kernelKey(source);
    const hit = this.kernels.get(key);
    if (hit) {
      this.kernelsBySource.set(source, hit);
      return hit;
    }
    // Start the GPU on what is already recorded while this pipeline compiles: on a cold start
    // the first training step compiles ~70 pipelines, and the GPU would otherwise idle until
    // every one of them is built.
    if (this.dispatchesInBatch > 0) this.submitRecorded();
    const layout = this.createLayout(source);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({
      label: source.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: this.device.createShaderModule({ label: source.name, code: source.code }),
        entryPoint: source.entryPoint ?? 'main',
      },
    });
    void waitQuietly(this.device.popErrorScope()).then((err) => {
      if (err) console.error(`WGSL kernel '${source.name}' failed to compile: ${err.message}`);
    });
    const compiled: CompiledKernel = { source, pipeline, layout, id: this.nextKernelId++ };
    this.kernels.set(key, compiled);
    this.kernelsBySource.set(source, compiled);
    this.counters.pipelinesCompiled++;
    return compiled;
  }

  private createLayout(source: KernelSource): GPUBindGroupLayout {
    const maxStorage = this.device.limits.maxStorageBuffersPerShaderStage;
    const storageCount = source.storage.filter((a) => a !== 'uniform').length;
    if (storageCount > maxStorage) {
      throw new DeviceError(
        `Kernel '${source.name}' binds ${storageCount} storage buffers; this device allows ${maxStorage}.`,
      );
    }
    const entries: GPUBindGroupLayoutEntry[] = [
      {
        binding: 0,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: PARAM_STRIDE },
      },
    ];
    source.storage.forEach((access, i) => {
      entries.push({
        binding: i + 1,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: access === 'read' ? 'read-only-storage' : access === 'uniform' ? 'uniform' : 'storage' },
      });
    });
    return this.device.createBindGroupLayout({ label: source.name, entries });
  }

  /**
   * Records one dispatch. `params` (at most 256 bytes) becomes the kernel's uniform block;
   * `buffers` bind in order from @binding(1).
   */
  dispatch(
    source: KernelSource | CompiledKernel,
    buffers: readonly BufferRange[],
    workgroups: readonly [number, number?, number?],
    params?: ArrayBufferView,
  ): void {
    const k = 'pipeline' in source ? source : this.kernel(source);
    const name = k.source.name;
    if (buffers.length !== k.source.storage.length) {
      throw new DeviceError(
        `Kernel '${name}' expects ${k.source.storage.length} storage buffers, got ${buffers.length}.`,
      );
    }
    const [x, y = 1, z = 1] = workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg || x < 0 || y < 0 || z < 0) {
      throw new DeviceError(
        `Kernel '${name}': dispatch of [${x}, ${y}, ${z}] workgroups ` +
          `exceeds the device limit of ${maxWg} per dimension.`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (this.deferred.size) for (const b of buffers) this.settle(b.buffer);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    const maxUniform = this.device.limits.maxUniformBufferBindingSize;
    const storage = k.source.storage;
    for (let i = 0; i < buffers.length; i++) {
      const uniform = storage[i] === 'uniform';
      const b = buffers[i];
      if (b.size > (uniform ? maxUniform : maxBinding)) {
        throw new DeviceError(
          uniform
            ? `Kernel '${name}': a ${b.size}-byte uniform binding exceeds the device's ` +
                `maxUniformBufferBindingSize (${maxUniform}).`
            : `Kernel '${name}': a ${b.size}-byte storage binding exceeds the device's ` +
                `maxStorageBufferBindingSize (${maxBinding}); use a smaller batch.`,
        );
      }
    }
    if (params && params.byteLength > PARAM_STRIDE) {
      throw new DeviceError(`Kernel '${name}': ${params.byteLength} bytes of parameters exceed ${PARAM_STRIDE}.`);
    }
    const bytes =
      !params || params instanceof Uint8Array
        ? params
        : new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    const group = this.bindGroup(k, buffers);
    const writes: GPUBuffer[] = [];
    for (let i = 0; i < storage.length; i++) if (storage[i] === 'read_write') writes.push(buffers[i].buffer);
    this.record(k, group, bytes, x, y, z, writes);
    if (this.log) {
      const ranges = buffers.map((b) => ({ buffer: b.buffer, offset: b.offset ?? 0, size: b.size }));
      const all = ranges.map((b) => b.buffer);
      this.log.push({ kind: 'dispatch', k, group, params: bytes?.slice(), x, y, z, ranges, buffers: all, writes });
    }
  }

  /** Encodes one dispatch whose bind group is made (dispatch() and a graph's replay). */
  record(
    k: CompiledKernel,
    group: GPUBindGroup,
    params: Uint8Array | undefined,
    x: number,
    y: number,
    z: number,
    writes: readonly GPUBuffer[],
  ): void {
    if (
      this.ringUsed + PARAM_STRIDE > this.ringStaging.byteLength ||
      this.dispatchesInBatch >= MAX_DISPATCHES_PER_SUBMIT
    ) {
      this.submitRecorded();
    }
    const offset = this.ringUsed;
    if (params) this.ringBytes.set(params, offset);
    this.ringUsed += PARAM_STRIDE;
    const pass = this.computePass(k.source.name);
    pass.setPipeline(k.pipeline);
    this.dynamicOffset[0] = offset; // copied by setBindGroup; one array for every dispatch
    pass.setBindGroup(0, group, this.dynamicOffset);
    for (const w of writes) this.noteWrite(w);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiling) this.endPass();
    this.dispatchesInBatch++;
    this.counters.dispatches++;
  }

  // --- captured graphs (graph.ts holds capture and replay) -----------------------------------

  /** True while a graph is being captured. */
  get capturing(): boolean {
    return this.log !== undefined;
  }

  /** Counts captures begun: a cache of derived data (packed weights) remakes it once per capture. */
  get captureCount(): number {
    return this.captures;
  }

  /** graph.ts: starts logging recorded work into `log` (deferred work of earlier calls is recorded first). */
  beginCapture(log: CapturedCommand[]): void {
    if (this.log) throw new DeviceError('capture: a capture is already running; captures do not nest.');
    this.settleAll();
    this.log = log;
    this.captures++;
  }

  /** graph.ts: records the captured function's deferred work, then stops logging. */
  endCapture(): void {
    try {
      this.settleAll();
    } finally {
      this.log = undefined;
    }
  }

  /**
   * Runs `fn` now, and again at every replay of a graph being captured, in its place: for work
   * that depends on values JavaScript holds and changes between replays (an optimizer's learning
   * rate). What `fn` records is not part of the capture. With `params`, where `fn` records one
   * dispatch, a replay records that dispatch again with the bytes params() returns, and runs `fn`
   * only when params() returns undefined (the work changed in more than its params).
   */
  rerunOnReplay(fn: () => void, params?: () => ArrayBufferView | undefined): void {
    const log = this.log;
    if (!log) return fn();
    // With `params` the replay skips the launcher's JavaScript: what fn recorded is kept, to replay.
    const recorded: CapturedCommand[] = [];
    this.log = params ? recorded : undefined;
    try {
      fn();
    } finally {
      this.log = log;
    }
    const only = recorded[0];
    if (recorded.length === 1 && only.kind === 'dispatch') log.push({ ...only, live: { params: params!, fn } });
    else log.push({ kind: 'rerun', fn });
  }

  /**
   * Writes `data` into `buffer` at `offset` from the CPU (queue.writeBuffer: before anything
   * still being recorded; callers submit that first where it matters).
   */
  upload(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.noteWrite(buffer);
    if (data.byteLength > 0)
      this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    if (this.log) {
      const copy = new Uint8Array(data.byteLength);
      copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.log.push({ kind: 'upload', buffer, offset, data: copy });
    }
  }

  private computePass(name: string): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    if (this.profiling) {
      const q = this.profileSlot(name); // may flush, so it comes before the encoder is taken
      const enc = this.commandEncoder();
      this.pass = enc.beginComputePass({
        timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
      });
    } else {
      this.pass = this.commandEncoder().beginComputePass();
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** The shared encoder, for copy commands; any open compute pass is ended first. */
  commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** True while commands are recorded but not submitted. */
  get hasPendingWork(): boolean {
    return this.encoder !== undefined;
  }

  /** Notes that `b` is written (by recorded work or an upload): its writeStamp changes. */
  noteWrite(b: GPUBuffer): void {
    this.writeStamps.set(b, this.nextWriteStamp++);
  }

  /**
   * A number that changes whenever `b` is written through the runtime (a kernel's read_write
   * binding, a copy, a clear, a Tensor upload), so that what is derived from a buffer (packed
   * weights) can be kept until the buffer changes.
   */
  writeStamp(b: GPUBuffer): number {
    return this.writeStamps.get(b) ?? 0;
  }

  /**
   * Registers work that will write `buffer` but is recorded later, batched with more of its kind
   * (e.g. the split weight-gradient reductions of a whole backward pass in one dispatch): `record`
   * runs before anything the runtime records next touches the buffer, and at the latest at the
   * next flush(). `record` must undefer() every buffer it covers before it records anything.
   */
  defer(buffer: GPUBuffer, record: () => void): void {
    this.deferred.set(buffer, record);
  }

  /** Forgets deferred work on `buffer` (done by its `record`). */
  undefer(buffer: GPUBuffer): void {
    this.deferred.delete(buffer);
  }

  /** Whether work is deferred (defer()). */
  get hasDeferred(): boolean {
    return this.deferred.size > 0;
  }

  /** Records the deferred work that writes `b`, if any. */
  settle(b: GPUBuffer): void {
    const record = this.deferred.get(b);
    if (record) record();
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (this.deferred.size) {
      this.settle(src);
      this.settle(dst);
    }
    this.noteWrite(dst);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.log?.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
  }

  /** Records a fill with zero bytes, in order with the dispatches. */
  clear(buf: GPUBuffer, offset: number, bytes: number): void {
    if (this.deferred.size) this.settle(buf);
    this.noteWrite(buf);
    this.endPass();
    this.commandEncoder().clearBuffer(buf, offset, bytes);
    this.log?.push({ kind: 'clear', buffer: buf, offset, bytes });
  }

  /** The bind group of `k` with `buffers` (cached by the buffers it binds). */
  bindGroup(k: CompiledKernel, buffers: readonly BufferRange[]): GPUBindGroup {
    let key = `${k.id}`;
    for (const b of buffers) key += `|${this.bufferId(b.buffer)}:${b.offset ?? 0}:${b.size}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size > 20000) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: this.ring, offset: 0, size: PARAM_STRIDE } },
      ];
      buffers.forEach((b, i) =>
        entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } }),
      );
      bg = this.device.createBindGroup({ layout: k.layout, entries });
      this.counters.bindGroupsCreated++;
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** Forgets cached bind groups that mention a destroyed buffer (called by the pool's trim). */
  forgetBindGroups(): void {
    this.bindGroups.clear();
  }

  /** Records any deferred work and submits everything recorded so far (no wait). */
  flush(): void {
    this.settleAll();
    this.submitRecorded();
  }

  /** Records all deferred work. */
  private settleAll(): void {
    for (const [buffer, record] of this.deferred) {
      this.deferred.delete(buffer);
      record();
    }
  }

  /** Submits what is recorded so far; deferred work stays deferred. */
  submitRecorded(): void {
    this.endPass();
    if (!this.encoder) {
      // Nothing recorded: every released buffer's last use is already submitted.
      this.rt.pool.onSubmit();
      return;
    }
    if (this.ringUsed > 0) this.device.queue.writeBuffer(this.ring, 0, this.ringStaging, 0, this.ringUsed);
    if (this.profiling && this.profileEntries.length) this.resolveProfile(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    for (const f of this.afterSubmit.splice(0)) f();
    this.encoder = undefined;
    this.ringUsed = 0;
    this.dispatchesInBatch = 0;
    this.counters.submits++;
    this.rt.pool.onSubmit();
  }

  /**
   * Copies `bytes` from a buffer to the CPU. Submits pending work; the returned promise is
   * the one place the CPU waits for the GPU.
   */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    if (this.log) {
      throw new DeviceError(
        'A readback while a graph is being captured: a replay cannot wait for the GPU. ' +
          'Read the values outside the captured function.',
      );
    }
    this.rt.checkErrors();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.takeStaging(size);
    this.copy(src, offset, staging, 0, size);
    this.flush();
    this.counters.readbacks++;
    try {
      await waitQuietly(staging.mapAsync(GPUMapMode.READ, 0, size));
    } catch (err) {
      this.rt.checkErrors();
      throw new DeviceError(`Readback failed: ${(err as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.stagingFree.push(staging);
    this.rt.checkErrors();
    return out;
  }

  private takeStaging(size: number): GPUBuffer {
    const i = this.stagingFree.findIndex((b) => b.size >= size && b.size <= size * 4);
    if (i >= 0) return this.stagingFree.splice(i, 1)[0];
    const cls = Math.max(256, 2 ** Math.ceil(Math.log2(size)));
    return this.device.createBuffer({
      label: 'readback',
      size: cls,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  // --- profiling -------------------------------------------------------------------------

  /** Starts recording GPU timestamps per dispatch (needs 'timestamp-query'). */
  startProfiling(): boolean {
    if (!this.device.features.has('timestamp-query')) return false;
    this.flush();
    this.profiling = true;
    return true;
  }

  /** Stops profiling and returns one timing per dispatch since startProfiling(). */
  async stopProfiling(): Promise<KernelTiming[]> {
    this.flush();
    this.profiling = false;
    const parts = await Promise.all(this.profileResults.splice(0));
    return parts.flat();
  }

  private profileSlot(name: string): number {
    const needed = (this.profileEntries.length + 1) * 2;
    if (!this.querySet || needed > this.queryCapacity) {
      if (this.querySet && this.profileEntries.length) {
        // Resolve what the full query set holds before starting a new one.
        this.flush();
      }
      if (!this.querySet) {
        this.queryCapacity = 4096;
        this.querySet = this.device.createQuerySet({ type: 'timestamp', count: this.queryCapacity });
      }
    }
    const q = this.profileEntries.length * 2;
    this.profileEntries.push({ name, queryIndex: q });
    return q;
  }

  private resolveProfile(enc: GPUCommandEncoder): void {
    const entries = this.profileEntries.splice(0);
    const count = entries.length * 2;
    const bytes = count * 8;
    const resolveBuf = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readBuf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.resolveQuerySet(this.querySet!, 0, count, resolveBuf, 0);
    enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, bytes);
    // Mapped only after the submit that resolves the queries (mapping before it is an error).
    this.afterSubmit.push(() =>
      this.profileResults.push(
        waitQuietly(readBuf.mapAsync(GPUMapMode.READ)).then(() => {
          const t = new BigInt64Array(readBuf.getMappedRange().slice(0));
          readBuf.unmap();
          readBuf.destroy();
          resolveBuf.destroy();
          return entries.map((e) => ({ name: e.name, ms: Number(t[e.queryIndex + 1] - t[e.queryIndex]) / 1e6 }));
        }),
      ),
    );
  }
}

function kernelKey(s: KernelSource): string {
  return `${s.name}\u0000${s.entryPoint ?? 'main'}\u0000${s.storage.join(',')}\u0000${s.code}`;
}
