// Split weight gradients are summed later, all in one dispatch (split-reduce.ts). Whatever
// touches a result first (a kernel, a copy, a clear, a readback, an upload) must see it summed,
// and a result dropped unread must cost nothing.

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, Tensor, type KernelSource } from '@wgtorch/tensor';
import { assertClose, randomArray } from '../common/testing.js';
import { f64 } from '../common/f64.js';
import { conv2dWeightGrad, conv2dWeightGradRef } from './index.js';
import { scale } from '../elementwise/index.js';

beforeAll(async () => {
  await getRuntime();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const OPTS = { stride: 1, padding: 1 };
// ResNet20-like layers at batch 8: their weight gradients are split on lavapipe.
const SHAPES = [
  { x: [8, 16, 32, 32], w: [16, 16, 3, 3] },
  { x: [8, 16, 16, 16], w: [32, 16, 3, 3] },
  { x: [8, 16, 32, 32], w: [16, 16, 3, 3] },
];

function inputs(seed: number) {
  return SHAPES.map(({ x, w }, i) => {
    const dyShape = [x[0], w[0], x[2], x[3]];
    const xd = randomArray(
      x.reduce((a, b) => a * b),
      seed + i,
    );
    const dyd = randomArray(
      dyShape.reduce((a, b) => a * b),
      seed + 10 + i,
    );
    return {
      x: Tensor.fromArray(xd, x),
      dy: Tensor.fromArray(dyd, dyShape),
      want: conv2dWeightGradRef(f64(xd, x), f64(dyd, dyShape), w, OPTS).data,
      w,
    };
  });
}

function reducesDuring(fn: () => void): number {
  const spy = vi.spyOn(runtime().dispatcher, 'dispatch');
  fn();
  const n = spy.mock.calls.filter(([k]) => (k as KernelSource).name === 'conv2d.weightGrad.reduce').length;
  spy.mockRestore();
  return n;
}

describe('batched split reductions', () => {
  it('sum every split weight gradient recorded before the first use, in one dispatch', async () => {
    const cases = inputs(1);
    let dws: Tensor[] = [];
    expect(reducesDuring(() => (dws = cases.map((c) => conv2dWeightGrad(c.x, c.dy, c.w, OPTS))))).toBe(0);
    // A kernel reading the last one records the reduction of all three (on lavapipe, where they split).
    let doubled: Tensor | undefined;
    const reduces = reducesDuring(() => (doubled = scale(dws[2], 2)));
    if (runtime().profile.software) expect(reduces).toBe(1);
    else expect(reduces).toBeLessThanOrEqual(1);
    assertClose(
      await doubled!.toArray(),
      Array.from(cases[2].want, (v) => 2 * v),
      { atol: 1e-3, rtol: 1e-4 },
      '2dw',
    );
    for (let i = 0; i < cases.length; i++) assertClose(await dws[i].toArray(), cases[i].want, { atol: 1e-3 }, 'dw');
    for (const t of [...dws, doubled!, ...cases.flatMap((c) => [c.x, c.dy])]) t.dispose();
  });

  it('are recorded before a copy, a clear or an upload touches a result', async () => {
    const cases = inputs(2);
    const [a, b, c] = cases.map((k) => conv2dWeightGrad(k.x, k.dy, k.w, OPTS));
    const copyOfA = Tensor.zeros(a.shape);
    runtime().dispatcher.copy(a.buffer, a.byteOffset, copyOfA.buffer, 0, a.byteLength);
    assertClose(await copyOfA.toArray(), cases[0].want, { atol: 1e-3 }, 'copy');
    const [b2, c2] = [1, 2].map((i) => conv2dWeightGrad(cases[i].x, cases[i].dy, cases[i].w, OPTS));
    runtime().dispatcher.clear(b2.buffer, b2.byteOffset, b2.byteLength);
    c2.write(new Float32Array(c2.size).fill(7));
    expect(Array.from(await b2.toArray()).every((v) => v === 0)).toBe(true);
    expect(Array.from(await c2.toArray()).every((v) => v === 7)).toBe(true);
    assertClose(await b.toArray(), cases[1].want, { atol: 1e-3 }, 'b');
    assertClose(await c.toArray(), cases[2].want, { atol: 1e-3 }, 'c');
    for (const t of [a, b, c, b2, c2, copyOfA, ...cases.flatMap((k) => [k.x, k.dy])]) t.dispose();
  });

  it('dropped unread leave nothing behind after the next submit', async () => {
    const cases = inputs(3);
    const live = () => runtime().pool.getStats().liveBuffers;
    const before = live();
    for (const k of cases) conv2dWeightGrad(k.x, k.dy, k.w, OPTS).dispose();
    runtime().dispatcher.flush();
    await Tensor.zeros([1]).item(); // waits for the GPU; its own buffer is counted below
    expect(live()).toBeLessThanOrEqual(before + 2); // the zeros above and at most one job table
    for (const t of cases.flatMap((k) => [k.x, k.dy])) t.dispose();
  });
});
