// Packed weights are kept per weight buffer and remade, all in one dispatch, only after the
// buffer is written: by an upload, a copy or a kernel. A stale packing would give the old
// weights' result, so each write is followed by a convolution checked against float64.

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, Tensor, type KernelSource } from '@wgtorch/tensor';
import { assertClose, randomArray } from '../common/testing.js';
import { f64 } from '../common/f64.js';
import { conv2dForward, conv2dForwardRef, conv2dInputGrad, conv2dInputGradRef } from './index.js';
import { rowWindowPlan } from './variants.js';
import { convGeometry } from './geometry.js';

beforeAll(async () => {
  await getRuntime();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const X = [2, 16, 8, 8];
const W = [16, 16, 3, 3];
const OPTS = { stride: 1, padding: 1 };
const xData = randomArray(2 * 16 * 64, 1);

/** Counts the packWeights dispatches recorded while `fn` runs. */
function packsDuring(fn: () => void): number {
  const spy = vi.spyOn(runtime().dispatcher, 'dispatch');
  fn();
  const n = spy.mock.calls.filter(([k]) => (k as KernelSource).name === 'conv2d.packWeights').length;
  spy.mockRestore();
  return n;
}

async function checkForward(x: Tensor, w: Tensor, wData: Float32Array): Promise<void> {
  const y = conv2dForward(x, w, OPTS);
  assertClose(await y.toArray(), conv2dForwardRef(f64(xData, X), f64(wData, W), OPTS).data, { atol: 1e-4 }, 'y');
  y.dispose();
}

const doubleKernel: KernelSource = {
  name: 'test.double',
  storage: ['read_write'],
  code: `@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&w)) { w[g.x] = 2.0 * w[g.x]; }
}`,
};

describe('packed weights', () => {
  it('apply to this test: the 3x3 forward packs its weights on this adapter', () => {
    // Where no plan packs (a GPU without the uniform path), the tests below check nothing.
    if (!rowWindowPlan('conv2d.forward', 'forward', convGeometry('t', X, W, OPTS))) return;
    const x = Tensor.fromArray(xData, X);
    const w = Tensor.fromArray(randomArray(16 * 16 * 9, 2), W);
    expect(packsDuring(() => conv2dForward(x, w, OPTS).dispose())).toBe(1);
    x.dispose();
    w.dispose();
  });

  it('are made once while the weights stay, and remade after an upload, a copy or a kernel writes them', async () => {
    const x = Tensor.fromArray(xData, X);
    let wData = randomArray(16 * 16 * 9, 3);
    const w = Tensor.fromArray(wData, W);
    await checkForward(x, w, wData);
    expect(packsDuring(() => conv2dForward(x, w, OPTS).dispose())).toBe(0);

    wData = randomArray(16 * 16 * 9, 4);
    w.write(wData);
    await checkForward(x, w, wData);

    wData = randomArray(16 * 16 * 9, 5);
    const src = Tensor.fromArray(wData, W);
    runtime().dispatcher.copy(src.buffer, 0, w.buffer, 0, w.byteLength);
    await checkForward(x, w, wData);

    runtime().dispatcher.dispatch(doubleKernel, [w.binding()], [Math.ceil(w.size / 64)]);
    wData = wData.map((v) => 2 * v);
    await checkForward(x, w, wData);
    for (const t of [x, w, src]) t.dispose();
  });

  it('of several weights in one buffer, forward and transposed, are remade in one dispatch', async () => {
    const align = Tensor.segmentAlignment();
    const per = Math.ceil((16 * 16 * 9) / align) * align;
    const data = [randomArray(16 * 16 * 9, 6), randomArray(16 * 16 * 9, 7)];
    const flat = new Float32Array(2 * per);
    data.forEach((d, i) => flat.set(d, i * per));
    const arena = Tensor.fromArray(flat);
    const ws = [arena.segment(0, W), arena.segment(per, W)];
    const x = Tensor.fromArray(xData, X);
    const use = () => {
      for (const w of ws) {
        conv2dForward(x, w, OPTS).dispose();
        conv2dInputGrad(x, w, X, OPTS).dispose();
      }
    };
    use();
    expect(packsDuring(use)).toBe(0);
    runtime().dispatcher.dispatch(doubleKernel, [arena.binding()], [Math.ceil(arena.size / 64)]);
    const packs = packsDuring(use);
    if (rowWindowPlan('conv2d.forward', 'forward', convGeometry('t', X, W, OPTS))) expect(packs).toBe(1);
    for (let i = 0; i < 2; i++) {
      const w2 = f64(
        data[i].map((v) => 2 * v),
        W,
      );
      await checkForward(x, ws[i], Float32Array.from(w2.data));
      const dx = conv2dInputGrad(x, ws[i], X, OPTS);
      assertClose(await dx.toArray(), conv2dInputGradRef(f64(xData, X), w2, X, OPTS).data, { atol: 1e-4 }, 'dx');
      dx.dispose();
    }
    for (const t of [x, arena, ...ws]) t.dispose();
  });

  it('are freed with the weight buffer', () => {
    const live = () => runtime().pool.getStats().liveBuffers;
    const x = Tensor.fromArray(xData, X);
    const before = live();
    const w = Tensor.fromArray(randomArray(16 * 16 * 9, 8), W);
    conv2dForward(x, w, OPTS).dispose();
    w.dispose();
    expect(live()).toBe(before);
    x.dispose();
  });
});
