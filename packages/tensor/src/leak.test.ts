// A failed op leaks nothing: buffers it took are released (releaseOnThrow), and an output the
// device could not bind is refused before a buffer is taken. Checked with the pool's counters.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, releaseOnThrow, runtime, ShapeError, Tensor, type KernelSource } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const copyKernel: KernelSource = {
  name: 'test.copy',
  storage: ['read', 'read_write'],
  code: `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) g: vec3u) { y[g.x] = x[g.x]; }`,
};

/** A launcher in the usual shape: output first, then a dispatch that can fail on a limit. */
const copyOp = releaseOnThrow((x: Tensor, workgroups: number): Tensor => {
  const scratch = Tensor.zeros([64]);
  const y = Tensor.empty(x.shape, 'f32', 'test.copy');
  runtime().dispatcher.dispatch(copyKernel, [x.binding(), y.binding()], [workgroups]);
  scratch.dispose();
  return y;
});

/** Live buffers and bytes, and buffers ever created. */
function counters(): { liveBuffers: number; liveBytes: number; created: number } {
  const s = runtime().pool.getStats();
  return { liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, created: s.created };
}

describe('releaseOnThrow', () => {
  it('releases the outputs and scratch of an op whose dispatch fails on a device limit', () => {
    const x = Tensor.zeros([8]);
    const before = counters();
    const tooMany = runtime().limits.maxComputeWorkgroupsPerDimension + 1;
    for (let i = 0; i < 3; i++) expect(() => copyOp(x, tooMany)).toThrow(/exceeds the device limit/);
    expect(counters().liveBuffers).toBe(before.liveBuffers);
    expect(counters().liveBytes).toBe(before.liveBytes);
    x.dispose();
  });

  it('leaves what a successful op returns, and views of its inputs, alone', async () => {
    const x = Tensor.fromArray(Float32Array.of(1, 2, 3, 4));
    const before = counters();
    const y = copyOp(x, 4);
    expect(Array.from(await y.toArray())).toEqual([1, 2, 3, 4]);
    expect(counters().liveBuffers).toBe(before.liveBuffers + 1);
    y.dispose();
    // A failing op that made a view of its input drops only the view's reference.
    const viewThenFail = releaseOnThrow((t: Tensor) => {
      t.reshape([2, 2]);
      throw new Error('fail');
    });
    expect(() => viewThenFail(x)).toThrow('fail');
    expect(Array.from(await x.toArray())).toEqual([1, 2, 3, 4]);
    expect(counters().liveBuffers).toBe(before.liveBuffers);
    x.dispose();
  });

  it('nests: an inner failure caught inside an outer op releases only the inner tensors', () => {
    const before = counters();
    const inner = releaseOnThrow(() => {
      Tensor.zeros([4]);
      throw new Error('inner');
    });
    const outer = releaseOnThrow(() => {
      const kept = Tensor.zeros([16]);
      expect(() => inner()).toThrow('inner');
      return kept;
    });
    const kept = outer();
    expect(kept.isDisposed).toBe(false);
    expect(counters().liveBuffers).toBe(before.liveBuffers + 1);
    kept.dispose();
    const failing = releaseOnThrow(() => {
      Tensor.zeros([16]);
      outer();
      throw new Error('outer');
    });
    expect(() => failing()).toThrow('outer');
    expect(counters().liveBuffers).toBe(before.liveBuffers);
  });
});

describe('Tensor.empty', () => {
  it('refuses an output over the binding limit before taking a buffer', () => {
    const limit = runtime().limits.maxStorageBufferBindingSize;
    const before = counters();
    for (let i = 0; i < 3; i++) {
      expect(() => Tensor.empty([limit / 4 + 4], 'f32', 'add')).toThrow(
        new RegExp(
          `^add: an output of \\[${limit / 4 + 4}\\] takes ${limit + 16} bytes, ` +
            `over the device's maxStorageBufferBindingSize of ${limit}`,
        ),
      );
    }
    expect(counters()).toEqual(before);
    expect(() => Tensor.empty([limit / 4 + 4])).toThrow(ShapeError);
  });
});

describe('integer tensors from numbers', () => {
  it('refuse values an i32 or u32 cannot hold instead of truncating them', async () => {
    expect(() => Tensor.fromArray(Float32Array.of(0, 1.5), [2], 'i32')).toThrow(
      /Tensor\.fromArray: element 1 is 1\.5, which a i32 tensor cannot hold/,
    );
    expect(() => Tensor.fromArray([3, NaN], [2], 'i32')).toThrow(/element 1 is NaN/);
    expect(() => Tensor.fromArray(Int32Array.of(2, -1), [2], 'u32')).toThrow(
      /element 1 is -1, which a u32 tensor cannot hold/,
    );
    expect(() => Tensor.fromArray([2 ** 31], [1], 'i32')).toThrow(/element 0 is 2147483648/);
    const t = Tensor.fromArray(Float32Array.of(0, 7, -3), [3], 'i32');
    expect(Array.from(await t.toArray())).toEqual([0, 7, -3]);
    expect(() => t.write([1, 2.25, 3])).toThrow(/Tensor\.write: element 1 is 2\.25/);
    t.dispose();
  });
});
