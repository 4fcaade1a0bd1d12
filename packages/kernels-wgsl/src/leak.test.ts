// A launcher that throws leaks no buffer: bad arguments are refused before anything is
// allocated, and what a launcher took before a later failure (a dispatch over a device limit)
// is released. Checked with the buffer pool's counters over repeated failures.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import * as K from './index.js';

beforeAll(async () => {
  await getRuntime();
});

function counters(): { liveBuffers: number; liveBytes: number; created: number } {
  const s = runtime().pool.getStats();
  return { liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, created: s.created };
}

/** Runs `fail` three times; each must throw `error`, and no buffer may stay live (or, with `noAlloc`, be created). */
function expectNoLeak(fail: () => unknown, error: RegExp, noAlloc = false): void {
  const before = counters();
  for (let i = 0; i < 3; i++) expect(fail).toThrow(error);
  const after = counters();
  expect({ liveBuffers: after.liveBuffers, liveBytes: after.liveBytes }).toEqual({
    liveBuffers: before.liveBuffers,
    liveBytes: before.liveBytes,
  });
  if (noAlloc) expect(after.created).toBe(before.created);
}

const ones = (shape: number[]) => Tensor.full(shape, 1);

describe('bad arguments', () => {
  it('elementwise with shapes that do not broadcast', () => {
    const a = ones([2, 3]);
    const b = ones([4]);
    expectNoLeak(() => K.add(a, b), /add: shapes \[2, 3\] and \[4\] do not broadcast/, true);
    expectNoLeak(() => K.addRelu(a, b), /addRelu: a \[2, 3\] and b \[4\] must have the same shape/, true);
    a.dispose();
    b.dispose();
  });

  it('matmul with inner dimensions that differ', () => {
    const a = ones([3, 4]);
    const b = ones([5, 2]);
    expectNoLeak(() => K.matmul(a, b), /matmul: a \[3, 4\] and b \[5, 2\]: inner dimensions 4 and 5 differ/, true);
    a.dispose();
    b.dispose();
  });

  it('conv2d with a weight for other channels', () => {
    const x = ones([1, 3, 8, 8]);
    const w = ones([4, 2, 3, 3]);
    expectNoLeak(() => K.conv2dForward(x, w), /conv2d\.forward/, true);
    const dy = ones([1, 4, 6, 6]);
    expectNoLeak(
      () => K.conv2dWeightGrad(x, dy, [4, 2, 3, 3]),
      /conv2d\.weightGrad: input \[1, 3, 8, 8\] has 3 channels/,
      true,
    );
    for (const t of [x, w, dy]) t.dispose();
  });

  it('batch norm with statistics for other channels', () => {
    const x = ones([2, 3, 4, 4]);
    const c3 = ones([3]);
    const c2 = ones([2]);
    expectNoLeak(() => K.batchNormTrain(x, c3, c3, c2, c3), /batchNormTrain/, true);
    for (const t of [x, c3, c2]) t.dispose();
  });
});

describe('over the device limits', () => {
  it('a batched matmul over the workgroup limit releases its output', () => {
    const batch = runtime().limits.maxComputeWorkgroupsPerDimension + 1;
    const a = Tensor.zeros([batch, 1, 1]);
    expectNoLeak(() => K.matmul(a, a), /exceeds the device limit/);
    a.dispose();
  });

  // One tensor just over the binding limit (134 MB on lavapipe); skipped where the limit is far larger.
  it('ops on a tensor over the binding limit release what they made', (ctx) => {
    const limit = runtime().limits.maxStorageBufferBindingSize;
    if (limit > 2 ** 30) ctx.skip();
    const n = limit / 4 + 4;
    const big = Tensor.zeros([n]);
    const row = big.reshape([1, n]);
    const image = big.reshape([1, 1, 1, n]);
    const c1 = ones([1]);
    const c1b = ones([1]);
    // Outputs as large as the input: refused before any buffer is taken.
    expectNoLeak(
      () => K.relu(big),
      /relu: an output of \[\d+\] takes \d+ bytes, over the device's maxStorageBufferBindingSize/,
      true,
    );
    expectNoLeak(() => K.addScalar(big, 1), /addScalar: an output/, true);
    expectNoLeak(() => K.add(row, big.reshape([n, 1]).reshape([1, n])), /add: an output/, true);
    expectNoLeak(() => K.softmax(row), /softmax: an output/, true);
    // Small outputs, then a dispatch that cannot bind the input: the outputs are released.
    expectNoLeak(() => K.sum(big, [0]), /storage binding exceeds the device's maxStorageBufferBindingSize/);
    expectNoLeak(() => K.matmul(row, big.reshape([n, 1])), /maxStorageBufferBindingSize/);
    expectNoLeak(() => K.globalAvgPool(image), /maxStorageBufferBindingSize/);
    // Batch norm takes its saved statistics first, then fails on x.
    expectNoLeak(() => K.batchNormTrain(image, c1, c1, c1, c1b), /maxStorageBufferBindingSize/);
    expectNoLeak(() => K.batchNormEval(image, c1, c1, c1, c1b), /maxStorageBufferBindingSize/);
    for (const t of [big, row, image, c1, c1b]) t.dispose();
  });
});
