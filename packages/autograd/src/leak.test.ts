// A failed op leaks nothing, inside tidy or not: its forward is refused before allocating or
// releases what it made, and a backward that throws releases its gradients. Checked with the
// buffer pool's counters.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import * as F from './functional.js';
import { apply, fromDevice, randn, tidy, type OpDef } from './tensor.js';

beforeAll(async () => {
  await getRuntime();
});

function counters(): { liveBuffers: number; liveBytes: number; created: number } {
  const s = runtime().pool.getStats();
  return { liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, created: s.created };
}

/** Runs `fail` three times outside tidy and three times inside; each must throw `error` and leave no buffer live. */
function expectNoLeak(fail: () => unknown, error: RegExp, noAlloc = false): void {
  const before = counters();
  for (let i = 0; i < 3; i++) expect(fail).toThrow(error);
  for (let i = 0; i < 3; i++) expect(() => tidy(fail)).toThrow(error);
  const after = counters();
  expect({ liveBuffers: after.liveBuffers, liveBytes: after.liveBytes }).toEqual({
    liveBuffers: before.liveBuffers,
    liveBytes: before.liveBytes,
  });
  if (noAlloc) expect(after.created).toBe(before.created);
}

describe('failed ops', () => {
  it('on a tensor over the binding limit (the issue: big.add(1) leaked 503 MB)', (ctx) => {
    const limit = runtime().limits.maxStorageBufferBindingSize;
    if (limit > 2 ** 30) ctx.skip();
    const big = fromDevice(DeviceTensor.zeros([limit / 4 + 4]), { requiresGrad: true });
    expectNoLeak(
      () => big.add(1),
      /addScalar: an output of \[\d+\] takes \d+ bytes, over the device's maxStorageBufferBindingSize/,
      true,
    );
    expectNoLeak(() => big.relu(), /relu: an output/, true);
    expectNoLeak(() => big.mul(big), /mul: an output/, true);
    expectNoLeak(() => big.sum(), /maxStorageBufferBindingSize/);
    expectNoLeak(() => F.matmul(big.reshape([1, -1]), big.reshape([-1, 1])), /maxStorageBufferBindingSize/);
    big.dispose();
  });

  it('with bad shapes: broadcast, matmul, conv2d channels', () => {
    const a = randn([2, 3], { requiresGrad: true });
    const b = randn([4], { requiresGrad: true });
    expectNoLeak(() => F.add(a, b), /add: shapes \[2, 3\] and \[4\] do not broadcast/, true);
    expectNoLeak(() => F.matmul(a, a), /inner dimensions 3 and 2 differ/, true);
    const x = randn([1, 3, 8, 8]);
    const w = randn([4, 2, 3, 3], { requiresGrad: true });
    expectNoLeak(() => F.conv2d(x, w), /conv2d: input \[1, 3, 8, 8\], weight \[4, 2, 3, 3\] do not fit/, true);
    for (const t of [a, b, x, w]) t.dispose();
  });

  it('over the workgroup limit: a batched matmul releases its output', () => {
    const batch = runtime().limits.maxComputeWorkgroupsPerDimension + 1;
    const a = fromDevice(DeviceTensor.zeros([batch, 1, 1]), { requiresGrad: true });
    expectNoLeak(() => F.matmul(a, a), /exceeds the device limit/);
    a.dispose();
  });

  it('whose forward throws after allocating', () => {
    const failing: OpDef = {
      name: 'failingForward',
      forward: (b, [x]) => {
        b.k.copy(x);
        b.view(x, [4]);
        throw new Error('forward failed');
      },
    };
    const x = randn([2, 2], { requiresGrad: true });
    expectNoLeak(() => apply(failing, [x], undefined), /forward failed/);
    x.dispose();
  });

  it('whose backward throws after allocating: gradients and dy are released', () => {
    const failing: OpDef = {
      name: 'failingBackward',
      forward: (b, [x]) => ({ y: b.k.copy(x) }),
      backward: (b, dy) => {
        b.k.copy(dy);
        b.k.scale(dy, 2);
        throw new Error('backward failed');
      },
    };
    const x = randn([4, 4], { requiresGrad: true });
    const w = randn([4, 4], { requiresGrad: true });
    expectNoLeak(() => {
      // x reaches the loss through the failing op and through a matmul, whose backward may run first.
      const made = [apply(failing, [x], undefined), F.matmul(x, w)];
      made.push(F.add(made[0], made[1]));
      made.push(F.mul(made[2], made[2]));
      made.push(F.sum(made[3]));
      try {
        made[4].backward();
      } finally {
        for (const t of made) t.dispose();
        x.zeroGrad(); // a gradient already accumulated belongs to its leaf, not to the failed op
        w.zeroGrad();
      }
    }, /backward failed/);
    x.dispose();
    w.dispose();
  });
});
