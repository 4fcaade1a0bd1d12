// Segments: views at a byte offset into a buffer (the optimizers keep parameters this way).
// Every path that touches a tensor's bytes must honour the offset: binding, reshape, clone,
// write, readback; and a misplaced segment is refused with its numbers.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, ShapeError, Tensor, type KernelSource } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const doubleKernel: KernelSource = {
  name: 'test.double',
  storage: ['read', 'read_write'],
  code: `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) g: vec3u) { y[g.x] = 2.0 * x[g.x]; }`,
};

const range = (n: number, from = 0) => Float32Array.from({ length: n }, (_, i) => from + i);

describe('Tensor.segment', () => {
  it('reads, writes, clones and binds the elements at its offset, and nothing else', async () => {
    const a = Tensor.segmentAlignment();
    const base = Tensor.fromArray(range(3 * a));
    const seg = base.segment(a, [2, 3]);
    expect(seg.byteOffset).toBe(a * 4);
    expect([...(await seg.toArray())]).toEqual([...range(6, a)]);
    expect([...(await seg.reshape([6]).toArray())]).toEqual([...range(6, a)]);
    expect([...(await seg.clone().toArray())]).toEqual([...range(6, a)]);

    // A kernel reads one segment and writes another (of another buffer: WebGPU refuses a buffer
    // bound writable twice in one dispatch, whatever the ranges): only those six elements change.
    const other = Tensor.fromArray(range(3 * a, 1000));
    const out = other.segment(2 * a, [6]);
    runtime().dispatcher.dispatch(doubleKernel, [seg.binding(), out.binding()], [6]);
    const all = await other.toArray();
    expect([...all.subarray(2 * a, 2 * a + 6)]).toEqual([...range(6, a)].map((v) => 2 * v));
    expect([...all.subarray(0, 2 * a)]).toEqual([...range(2 * a, 1000)]);
    expect([...all.subarray(2 * a + 6)]).toEqual([...range(a - 6, 1000 + 2 * a + 6)]);

    seg.write([9, 9, 9, 9, 9, 9]);
    const after = await base.toArray();
    expect([...after.subarray(a, a + 6)]).toEqual([9, 9, 9, 9, 9, 9]);
    expect(after[a - 1]).toBe(a - 1);
    expect(after[a + 6]).toBe(a + 6);
  });

  it('keeps the buffer alive until the base and every segment are disposed', () => {
    const stats = () => runtime().pool.getStats();
    const base = Tensor.zeros([2 * Tensor.segmentAlignment()]);
    const live = stats().liveBuffers;
    const seg = base.segment(Tensor.segmentAlignment(), [4]);
    base.dispose();
    expect(stats().liveBuffers).toBe(live);
    seg.dispose();
    expect(stats().liveBuffers).toBe(live - 1);
  });

  it('refuses an offset the device cannot bind, or a segment past the end, naming both', () => {
    const a = Tensor.segmentAlignment();
    const base = Tensor.zeros([2 * a]);
    expect(() => base.segment(a + 4, [2])).toThrow(ShapeError);
    expect(() => base.segment(a + 4, [2])).toThrow(/from element \d+ .* multiple of \d+ elements/);
    expect(() => base.segment(a, [a + 1])).toThrow(/does not fit a tensor of \d+ elements/);
    expect(() => base.segment(-a, [1])).toThrow(ShapeError);
    base.dispose();
  });
});
