// Packs a kernel's uniform parameters. WGSL kernels declare `struct Params` with 4-byte scalar
// fields only (u32, i32, f32), in the same order as the calls here, so no padding rules apply.

/** Packs a kernel's uniform parameters (4-byte u32, i32 and f32 fields, in declaration order). */
export class Params {
  private readonly view: DataView;
  private readonly bytes = new Uint8Array(256);
  private offset = 0;

  constructor() {
    this.view = new DataView(this.bytes.buffer);
  }

  u32(v: number): this {
    this.view.setUint32(this.take(), v >>> 0, true);
    return this;
  }

  i32(v: number): this {
    this.view.setInt32(this.take(), v | 0, true);
    return this;
  }

  f32(v: number): this {
    this.view.setFloat32(this.take(), v, true);
    return this;
  }

  private take(): number {
    if (this.offset >= 256) throw new RangeError('Params: more than 64 scalar parameters');
    const o = this.offset;
    this.offset += 4;
    return o;
  }

  /** The packed bytes (a view; valid until the next call). */
  data(): Uint8Array {
    return this.bytes.subarray(0, Math.max(4, this.offset));
  }
}

/** Shorthand: `params().u32(n).f32(alpha).data()`. */
export function params(): Params {
  return new Params();
}
