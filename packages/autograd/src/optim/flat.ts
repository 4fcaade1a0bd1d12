// The flat buffers the optimizers update in one dispatch: every parameter of the optimizer has
// a segment at a fixed offset (zero padding between), the same in each buffer ('params',
// 'grads' and the optimizer's state kinds). On the GPU each parameter's storage becomes a view
// of its segment of 'params', so a step updates it in place; only the gradients are copied in
// (buffer copies, not dispatches). On cpu64 the parameters are copied in and out.

import { Tensor as DeviceTensor, runtime } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import { backendOf, type Backend, type Raw } from '../backend.js';
import type { Parameter } from '../nn/module.js';
import { replaceStorage } from '../tensor.js';

/** Values with a shape, as optimizer state dicts hold them (Float32Array, read back from the GPU). */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export class FlatArena {
  /** Each parameter's offset, in elements. */
  readonly offsets: number[];
  readonly total: number;
  readonly backend: Backend;
  private readonly buffers = new Map<string, Raw>();
  /** Parameter k's storage while it is a view of its segment of 'params' (gpu). */
  private readonly views: (DeviceTensor | undefined)[] = [];

  constructor(
    readonly params: readonly Parameter[],
    owner: string,
  ) {
    const backends = new Set(params.map((p) => p.backend));
    if (backends.size > 1)
      throw new Error(`${owner}: the parameters are on both the gpu and cpu64 backends; use one backend.`);
    this.backend = backendOf(params[0]?.backend ?? 'gpu');
    // Segments start where a kernel can bind them (a parameter is bound as a view of its segment).
    const gpu = this.backend.name === 'gpu' && params.length > 0;
    const align = gpu ? Math.max(4, DeviceTensor.segmentAlignment()) : 4;
    let at = 0;
    this.offsets = params.map((p) => {
      const o = at;
      at += Math.ceil(p.size / align) * align;
      return o;
    });
    this.total = Math.max(at, align);
    // No parameters, no buffer (and no device needed: a schedule's lr can be computed without one).
    const limit =
      this.backend.name === 'gpu' && params.length ? runtime().limits.maxStorageBufferBindingSize : Infinity;
    if (this.total * 4 > limit) {
      throw new Error(
        `${owner}: the parameters hold ${this.total} values (${this.total * 4} bytes with padding), over the ` +
          `device's maxStorageBufferBindingSize of ${limit} bytes, which one flat buffer must fit; ` +
          'use one optimizer per part of the model.',
      );
    }
  }

  /** The flat buffer of `kind`, made (zero) on first use. */
  get(kind: string): Raw {
    let r = this.buffers.get(kind);
    if (!r) {
      r = this.backend.name === 'gpu' ? DeviceTensor.zeros([this.total]) : zerosF64(this.total);
      this.buffers.set(kind, r);
    }
    return r;
  }

  /**
   * Brings parameter k's values into segment k of 'params'. On the GPU the first call (the
   * optimizer makes it when built, and again after the parameter's storage was replaced, e.g. by
   * another optimizer) copies them in and makes the parameter's storage a view of the segment;
   * later calls cost nothing.
   */
  loadParam(k: number): void {
    const p = this.params[k];
    if (this.backend.name !== 'gpu') return this.gather('params', k, p.raw);
    if (p.raw === this.views[k]) return;
    this.gather('params', k, p.raw);
    const view = (this.get('params') as DeviceTensor).segment(this.offsets[k], p.shape);
    replaceStorage(p, view);
    this.views[k] = view;
  }

  /** Puts parameter k's new values back after a step (a copy on cpu64; on the GPU they are already there). */
  storeParam(k: number): void {
    if (this.backend.name !== 'gpu') this.scatter('params', k, this.params[k].raw);
  }

  /** Copies `src` (parameter k's size) into segment k of `kind`. */
  gather(kind: string, k: number, src: Raw): void {
    copy(src, 0, this.get(kind), this.offsets[k], this.params[k].size);
  }

  /** Copies segment k of `kind` into `dst`. */
  scatter(kind: string, k: number, dst: Raw): void {
    copy(this.get(kind), this.offsets[k], dst, 0, this.params[k].size);
  }

  /** A new tensor holding a copy of segment k of `kind`, shaped as parameter k (the caller releases it). */
  slice(kind: string, k: number): Raw {
    const p = this.params[k];
    const out = this.backend.name === 'gpu' ? DeviceTensor.zeros(p.shape) : zerosF64(p.size, p.shape);
    copy(this.get(kind), this.offsets[k], out, 0, p.size);
    return out;
  }

  /** The segments of `kind` for parameters `ks`, read back in one transfer. */
  async read(kind: string, ks: Iterable<number>): Promise<Map<number, NamedArray>> {
    const all = await this.backend.toArray(this.get(kind));
    const out = new Map<number, NamedArray>();
    for (const k of ks) {
      const p = this.params[k];
      const o = this.offsets[k];
      out.set(k, { shape: [...p.shape], data: Float32Array.from(all.subarray(o, o + p.size)) });
    }
    return out;
  }

  /** Replaces `kind` with the given segments (others zero), in one upload. */
  write(kind: string, values: Map<number, ArrayLike<number>>): void {
    const all = new Float32Array(this.total);
    for (const [k, v] of values) all.set(v, this.offsets[k]);
    const old = this.buffers.get(kind);
    if (old) this.backend.release(old);
    this.buffers.set(kind, this.backend.fromArray(all, [this.total]));
  }

  /** Releases the buffer of `kind` (it starts at zero when next used). */
  reset(kind: string): void {
    const r = this.buffers.get(kind);
    if (r) this.backend.release(r);
    this.buffers.delete(kind);
  }

  dispose(): void {
    for (const r of this.buffers.values()) this.backend.release(r);
    this.buffers.clear();
  }
}

function zerosF64(n: number, shape: readonly number[] = [n]): F64 {
  return { data: new Float64Array(n), shape: [...shape] };
}

/** Copies n elements between raw tensors of one backend (on the GPU, recorded in order with the kernels). */
function copy(src: Raw, srcAt: number, dst: Raw, dstAt: number, n: number): void {
  if (n === 0) return;
  if (src instanceof DeviceTensor && dst instanceof DeviceTensor) {
    runtime().dispatcher.copy(src.buffer, src.byteOffset + srcAt * 4, dst.buffer, dst.byteOffset + dstAt * 4, n * 4);
  } else if (!(src instanceof DeviceTensor) && !(dst instanceof DeviceTensor)) {
    dst.data.set(src.data.subarray(srcAt, srcAt + n), dstAt);
  } else {
    throw new Error('optimizer: a gradient is on another backend than its parameter.');
  }
}
