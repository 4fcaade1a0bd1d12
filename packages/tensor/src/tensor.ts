// GPU tensors: a shape, a dtype and a pooled GPU buffer. Contiguous row-major (NCHW for images).
// Views made by reshape() and segment() share the buffer; it returns to the pool when the last
// view is disposed. A segment starts at a byte offset into the buffer: bind with binding().
// Reading back is asynchronous and is the only point where the CPU waits.

import { runtime, type Runtime } from './device.js';
import type { PooledBuffer } from './pool.js';
import type { BufferRange } from './dispatch.js';
import { Rng } from './random.js';

/** Element type of a GPU tensor. */
export type DType = 'f32' | 'i32' | 'u32';
/** The typed array that holds a tensor of dtype D on the CPU. */
export type TypedArrayOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;
/** A typed array of any tensor dtype. */
export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

const ARRAY_OF: Record<DType, Float32ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor> = {
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
};

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Number of elements of a shape; throws a clear error for a malformed one. */
export function sizeOf(shape: readonly number[], op = 'Tensor'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(
        `${op}: invalid shape [${shape.join(', ')}]: every dimension must be a non-negative integer.`,
      );
    }
    n *= d;
  }
  return n;
}

/** A shape as in messages: [2, 3]. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A shape or argument error; the message names the op, the shapes and the fix. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

function dtypeOfArray(a: AnyTypedArray | ArrayLike<number>): DType {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  return 'f32';
}

const INT_RANGE: Record<'i32' | 'u32', [number, number]> = { i32: [-(2 ** 31), 2 ** 31 - 1], u32: [0, 2 ** 32 - 1] };

/**
 * `data` as the typed array of `dtype`. Converting to i32 or u32 refuses values the integer
 * type cannot hold exactly (fractions, NaN, out of range) instead of truncating them silently.
 */
function typedOf(op: string, data: AnyTypedArray | ArrayLike<number>, dtype: DType): AnyTypedArray {
  const Ctor = ARRAY_OF[dtype];
  if (data instanceof Ctor) return data as AnyTypedArray;
  if (dtype !== 'f32') {
    const [lo, hi] = INT_RANGE[dtype];
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new ShapeError(
          `${op}: element ${i} is ${v}, which a ${dtype} tensor cannot hold (integers in [${lo}, ${hi}]); ` +
            'round or check the data first.',
        );
      }
    }
  }
  return Ctor.from(data as ArrayLike<number>);
}

class Storage {
  refs = 1;
  constructor(
    readonly rt: Runtime,
    readonly buf: PooledBuffer,
  ) {}
  release(): void {
    if (--this.refs === 0 && !this.rt.isDestroyed) this.rt.pool.release(this.buf);
  }
}

// ---- ops that throw ----
// An op that throws after taking buffers from the pool (a dispatch over a device limit, a
// second output too large) returns nothing, so no caller could release what it made. While an
// op wrapped by releaseOnThrow runs, the tensors created are noted, and disposed if it throws.

/** Tensors created since the outermost running op began (cleared when it ends). */
const madeInOp: Tensor[] = [];
let opDepth = 0;

/**
 * Wraps an op (a kernel launcher, an autograd forward or backward) so that when it throws,
 * every tensor created during the call is disposed: its outputs, its scratch tensors and the
 * views it made of its inputs (which only drop their reference). What it returns is untouched.
 * Calls nest; nothing is allocated per call.
 */
export function releaseOnThrow<F extends (...args: never[]) => unknown>(op: F): F {
  const call = op as unknown as (...args: unknown[]) => unknown;
  const wrapped = function (this: unknown): unknown {
    const mark = madeInOp.length;
    opDepth++;
    try {
      return call.apply(this, arguments as unknown as unknown[]);
    } catch (e) {
      for (let i = mark; i < madeInOp.length; i++) madeInOp[i].dispose();
      madeInOp.length = mark;
      throw e;
    } finally {
      if (--opDepth === 0) madeInOp.length = 0;
    }
  };
  Object.defineProperty(wrapped, 'name', { value: op.name });
  return wrapped as unknown as F;
}

/** Records where tensors are created when WGTORCH_TRACE_TENSORS=1 (costs a stack trace each). */
const TRACE = typeof process !== 'undefined' && process.env?.WGTORCH_TRACE_TENSORS === '1';

/**
 * A tensor in a GPU buffer from the pool: shape, dtype, upload, readback and dispose
 * (no autograd; see @wgtorch/autograd).
 */
export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  /** Number of elements. */
  readonly size: number;
  /** What made this tensor (an op name), for error messages. */
  readonly label: string;
  /** Where the tensor starts in its buffer, in bytes (0 unless made by segment()). */
  readonly byteOffset: number;
  private storage: Storage | undefined;
  private readonly origin: string | undefined;

  private constructor(shape: readonly number[], dtype: D, storage: Storage, label: string, byteOffset = 0) {
    this.shape = Object.freeze([...shape]);
    this.byteOffset = byteOffset;
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.storage = storage;
    this.label = label;
    this.origin = TRACE ? new Error().stack?.split('\n').slice(3, 6).join('\n') : undefined;
    if (opDepth > 0) madeInOp.push(this);
  }

  /**
   * An uninitialized tensor, for kernels to write their output into. A kernel binds its output
   * whole, so one over the device's binding limit is refused here, before a buffer is taken.
   */
  static empty<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D, label = 'empty'): Tensor<D> {
    const rt = runtime();
    const bytes = sizeOf(shape, label) * 4;
    if (bytes > rt.pool.maxBindingBytes) {
      throw new ShapeError(
        `${label}: an output of ${formatShape(shape)} takes ${bytes} bytes, ` +
          `over the device's maxStorageBufferBindingSize of ${rt.pool.maxBindingBytes} bytes ` +
          '(the most one kernel binding holds); use a smaller batch or split the tensor.',
      );
    }
    return Tensor.allocate(shape, dtype, label);
  }

  /** An uninitialized tensor of any size the device allows (for copies and uploads, not kernel outputs). */
  private static allocate<D extends DType>(shape: readonly number[], dtype: D, label: string): Tensor<D> {
    const rt = runtime();
    const buf = rt.pool.acquire(Math.max(4, sizeOf(shape, label) * 4));
    return new Tensor(shape, dtype, new Storage(rt, buf), label);
  }

  /**
   * A tensor holding a copy of `data` (dtype from the array type unless given;
   * i32 and u32 take exact integers only).
   */
  static fromArray<D extends DType = 'f32'>(
    data: AnyTypedArray | ArrayLike<number>,
    shape?: readonly number[],
    dtype?: D,
  ): Tensor<D> {
    const dt = (dtype ?? dtypeOfArray(data)) as D;
    const shp = shape ?? [data.length];
    const n = sizeOf(shp, 'Tensor.fromArray');
    if (n !== data.length) {
      throw new ShapeError(
        `Tensor.fromArray: data has ${data.length} elements but shape ${formatShape(shp)} needs ${n}; ` +
          'pass a matching shape.',
      );
    }
    const typed = typedOf('Tensor.fromArray', data, dt);
    const rt = runtime();
    // An upload may only overwrite a buffer whose last use is submitted: submit pending work
    // rather than grow the pool when only such a buffer is waiting.
    if (!rt.dispatcher.hasPendingWork) rt.pool.onSubmit();
    else if (rt.pool.uploadNeedsSubmit(Math.max(4, n * 4))) rt.dispatcher.flush();
    const buf = rt.pool.acquire(Math.max(4, n * 4), true);
    rt.dispatcher.upload(buf.buffer, 0, typed);
    return new Tensor(shp, dt, new Storage(rt, buf), 'fromArray');
  }

  static zeros<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    const t = Tensor.allocate(shape, dtype, 'zeros');
    if (t.size > 0) runtime().dispatcher.clear(t.buffer, 0, t.storage!.buf.bytes);
    return t;
  }

  static ones<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    return Tensor.full(shape, 1, dtype);
  }

  static full<D extends DType = 'f32'>(shape: readonly number[], value: number, dtype: D = 'f32' as D): Tensor<D> {
    const n = sizeOf(shape, 'Tensor.full');
    const data = new ARRAY_OF[dtype](n);
    data.fill(value);
    return Tensor.fromArray(data, shape, dtype);
  }

  /** Normal samples, reproducible for a seed (generated on the CPU, uploaded once). */
  static randn(
    shape: readonly number[],
    opts: { seed?: number; rng?: Rng; mean?: number; std?: number } = {},
  ): Tensor<'f32'> {
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const data = rng.normalArray(sizeOf(shape, 'Tensor.randn'), opts.mean ?? 0, opts.std ?? 1);
    return Tensor.fromArray(data, shape, 'f32');
  }

  /** Uniform samples in [low, high), reproducible for a seed. */
  static rand(
    shape: readonly number[],
    opts: { seed?: number; rng?: Rng; low?: number; high?: number } = {},
  ): Tensor<'f32'> {
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const data = rng.uniformArray(sizeOf(shape, 'Tensor.rand'), opts.low ?? 0, opts.high ?? 1);
    return Tensor.fromArray(data, shape, 'f32');
  }

  get strides(): number[] {
    return stridesOf(this.shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * 4;
  }

  get isDisposed(): boolean {
    return this.storage === undefined;
  }

  private live(op: string): Storage {
    if (!this.storage) {
      throw new Error(
        `${op}: tensor ${formatShape(this.shape)} ${this.dtype} (made by '${this.label}') was used after dispose()` +
          (this.origin
            ? `; created at:\n${this.origin}`
            : '; set WGTORCH_TRACE_TENSORS=1 to see where it was created') +
          '. Keep it alive until its last use, or clone() it.',
      );
    }
    return this.storage;
  }

  /** The GPU buffer (may be larger than the tensor and hold it at byteOffset: bind with binding()). */
  get buffer(): GPUBuffer {
    return this.live('Tensor.buffer').buf.buffer;
  }

  /** The exact range to bind to a kernel's storage binding. */
  binding(): BufferRange {
    return {
      buffer: this.live('Tensor.binding').buf.buffer,
      offset: this.byteOffset,
      size: Math.max(4, this.size * 4),
    };
  }

  /**
   * Elements between the starts of segments (segment()): the device's offset alignment for
   * storage and uniform bindings, in elements (64 where both are 256 bytes).
   */
  static segmentAlignment(): number {
    const { minStorageBufferOffsetAlignment: s, minUniformBufferOffsetAlignment: u } = runtime().device.limits;
    return Math.max(s, u) / 4;
  }

  /**
   * A view of `shape` over this tensor's elements from element `offset` on, sharing the buffer
   * (e.g. one parameter inside an optimizer's flat buffer). `offset` must be a multiple of
   * Tensor.segmentAlignment(), so kernels can bind the view.
   */
  segment(offset: number, shape: readonly number[]): Tensor<D> {
    const st = this.live('Tensor.segment');
    const n = sizeOf(shape, 'Tensor.segment');
    const align = Tensor.segmentAlignment();
    if (!Number.isInteger(offset) || offset < 0 || offset + n > this.size || offset % align !== 0) {
      throw new ShapeError(
        `Tensor.segment: ${formatShape(shape)} (${n} elements) from element ${offset} does not fit a tensor of ` +
          `${this.size} elements at a multiple of ${align} elements (the device's binding alignment); ` +
          'pick an aligned offset inside the tensor.',
      );
    }
    st.refs++;
    return new Tensor(shape, this.dtype, st, this.label, this.byteOffset + offset * 4);
  }

  /** The same data under another shape (same number of elements); shares the buffer. -1 infers one dimension. */
  reshape(shape: readonly number[]): Tensor<D> {
    const st = this.live('Tensor.reshape');
    const s = [...shape];
    const inferred = s.indexOf(-1);
    if (inferred >= 0) {
      const rest = s.reduce((a, d, i) => (i === inferred ? a : a * d), 1);
      s[inferred] = rest === 0 ? 0 : this.size / rest;
    }
    if (sizeOf(s, 'Tensor.reshape') !== this.size || !Number.isInteger(s[inferred] ?? 0)) {
      throw new ShapeError(
        `Tensor.reshape: cannot view ${formatShape(this.shape)} (${this.size} elements) as ${formatShape(shape)}; ` +
          'the element counts must match.',
      );
    }
    st.refs++;
    return new Tensor(s, this.dtype, st, this.label, this.byteOffset);
  }

  /** A new tensor with a copy of the data (a GPU copy, no readback). */
  clone(): Tensor<D> {
    const st = this.live('Tensor.clone');
    const out = Tensor.allocate(this.shape, this.dtype, 'clone');
    if (this.size > 0) st.rt.dispatcher.copy(st.buf.buffer, this.byteOffset, out.buffer, 0, this.size * 4);
    return out;
  }

  /** Overwrites the contents from the CPU, in order with recorded GPU work. */
  write(data: AnyTypedArray | ArrayLike<number>): void {
    const st = this.live('Tensor.write');
    if (data.length !== this.size) {
      throw new ShapeError(
        `Tensor.write: got ${data.length} elements for tensor ${formatShape(this.shape)} (${this.size}).`,
      );
    }
    const typed = typedOf('Tensor.write', data, this.dtype);
    // queue.writeBuffer runs before commands still being recorded: submit those first.
    st.rt.dispatcher.flush();
    st.rt.dispatcher.upload(st.buf.buffer, this.byteOffset, typed);
  }

  /** Copies the data to the CPU. */
  async toArray(): Promise<TypedArrayOf<D>> {
    const st = this.live('Tensor.toArray');
    if (this.size === 0) return new ARRAY_OF[this.dtype](0) as TypedArrayOf<D>;
    const bytes = await st.rt.dispatcher.read(st.buf.buffer, this.byteOffset, this.size * 4);
    return new ARRAY_OF[this.dtype](bytes) as TypedArrayOf<D>;
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new ShapeError(`Tensor.item: tensor ${formatShape(this.shape)} has ${this.size} elements, not 1.`);
    return (await this.toArray())[0];
  }

  /** Returns the buffer to the pool (after the last view is disposed). Idempotent. */
  dispose(): void {
    if (!this.storage) return;
    this.storage.release();
    this.storage = undefined;
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.isDisposed ? ', disposed' : ''})`;
  }
}
