// sgdFlatStep against its float64 reference and against the per-tensor sgdStep (the numerics
// SGD had before it moved to flat buffers): ResNet20's 65 parameters in one dispatch.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { sgdFlatStep, sgdFlatStepRef, sgdStep, type SgdSegment } from './index.js';
import { resnet20ParamShapes } from './resnet20-shapes.js';
import { expectClose, pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

const sizeOf = (s: number[]) => s.reduce((a, d) => a * d, 1);

/** Packs segments at offsets rounded up to 4 (zero padding), with per-segment settings from `opt(k)`. */
function packed(sizes: number[], opt: (k: number) => Omit<SgdSegment, 'offset' | 'size'>) {
  let at = 0;
  const segments = sizes.map((size, k) => {
    const s = { offset: at, size, ...opt(k) };
    at += Math.ceil(size / 4) * 4;
    return s;
  });
  return { segments, total: at };
}

function flat(segments: SgdSegment[], total: number, seed: number) {
  const src = pair([total], seed);
  const v = new Float32Array(total);
  for (const s of segments) v.set(src.r.data.subarray(s.offset, s.offset + s.size), s.offset);
  src.t.dispose();
  return { t: Tensor.fromArray(v, [total]), r: { data: Float64Array.from(v), shape: [total] } };
}

/**
 * Steps a flat SGD update and its float64 reference over `steps` steps (the first a first step),
 * checking each takes `dispatches` dispatches, then compares parameters and momentum.
 */
async function stepsMatchRef(
  segments: SgdSegment[],
  total: number,
  seed: number,
  steps: number,
  dispatches: number,
): Promise<void> {
  const p = flat(segments, total, seed);
  const m = flat(segments, total, seed + 1);
  for (let step = 0; step < steps; step++) {
    const g = flat(segments, total, seed + 10 + step);
    const segs = segments.map((s) => ({ ...s, firstStep: step === 0 }));
    const before = runtime().dispatcher.counters.dispatches;
    sgdFlatStep(p.t, g.t, m.t, segs);
    expect(runtime().dispatcher.counters.dispatches - before).toBe(dispatches);
    sgdFlatStepRef(p.r, g.r, m.r, segs);
    g.t.dispose();
  }
  await expectClose(p.t, p.r, { atol: 1e-6, rtol: 1e-5 }, 'params');
  await expectClose(m.t, m.r, { atol: 1e-6, rtol: 1e-5 }, 'momentum');
}

describe('sgdFlatStep', () => {
  it('matches float64 over mixed groups (momentum, dampening, nesterov, none), three steps', async () => {
    const sizes = [1, 5, 0, 300, 3, 1025, 4097, 7, 16];
    const { segments, total } = packed(sizes, (k) => ({
      lr: k % 2 ? 0.1 : 0.05,
      momentum: k % 4 === 3 ? 0 : 0.9,
      dampening: k % 4 === 1 ? 0.2 : 0,
      nesterov: k % 4 === 2,
      weightDecay: k % 3 ? 5e-4 : 0,
      firstStep: true,
    }));
    await stepsMatchRef(segments, total, 1, 3, 1);
  });

  it("gives sgdStep's values bit for bit on ResNet20's parameters, in one dispatch", async () => {
    const shapes = resnet20ParamShapes();
    const o = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 5e-4 };
    const { segments, total } = packed(shapes.map(sizeOf), () => ({ ...o, firstStep: true }));
    const p = flat(segments, total, 1);
    const m = Tensor.zeros([total]);
    const ps = segments.map((s, k) => Tensor.fromArray(p.r.data.subarray(s.offset, s.offset + s.size), shapes[k]));
    const ms = shapes.map((s) => Tensor.zeros(s));
    for (let step = 0; step < 2; step++) {
      const g = flat(segments, total, 20 + step);
      const gs = segments.map((s, k) => Tensor.fromArray(g.r.data.subarray(s.offset, s.offset + s.size), shapes[k]));
      const before = runtime().dispatcher.counters.dispatches;
      sgdFlatStep(
        p.t,
        g.t,
        m,
        segments.map((s) => ({ ...s, firstStep: step === 0 })),
      );
      expect(runtime().dispatcher.counters.dispatches - before).toBe(1);
      sgdStep(ps, gs, ms, { ...o, firstStep: step === 0 });
      g.t.dispose();
      gs.forEach((t) => t.dispose());
    }
    const flatValues = await p.t.toArray();
    for (let k = 0; k < ps.length; k++) {
      const s = segments[k];
      expect(Array.from(await ps[k].toArray()), `param ${k}`).toEqual(
        Array.from(flatValues.subarray(s.offset, s.offset + s.size)),
      );
    }
  });

  it('takes a dispatch per 15 distinct settings (40 learning rates: 3 dispatches)', async () => {
    const sizes = Array.from({ length: 40 }, (_, k) => 1 + ((k * 37) % 300));
    const { segments, total } = packed(sizes, (k) => ({
      lr: 0.01 * (k + 1),
      momentum: 0.9,
      dampening: 0,
      nesterov: k % 2 === 0,
      weightDecay: 1e-3,
      firstStep: true,
    }));
    await stepsMatchRef(segments, total, 3, 2, 3);
  });

  it('uploads no table when only the learning rates change (they travel in the params)', async () => {
    const { segments, total } = packed([5, 300, 7], (k) => ({
      lr: 0.1 * (k + 1),
      momentum: 0.9,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      firstStep: false,
    }));
    const p = flat(segments, total, 5);
    const m = flat(segments, total, 6);
    const g = flat(segments, total, 7);
    const uploads = vi.spyOn(runtime().dispatcher, 'upload');
    try {
      sgdFlatStep(p.t, g.t, m.t, segments);
      const first = uploads.mock.calls.length;
      const later = segments.map((s, k) => ({ ...s, lr: 0.05 * (k + 1) }));
      sgdFlatStep(p.t, g.t, m.t, later);
      expect(uploads.mock.calls.length).toBe(first);
      sgdFlatStepRef(p.r, g.r, m.r, segments);
      sgdFlatStepRef(p.r, g.r, m.r, later);
      // A new first-step flag changes the table: uploaded again.
      sgdFlatStep(
        p.t,
        g.t,
        m.t,
        later.map((s) => ({ ...s, firstStep: true })),
      );
      expect(uploads.mock.calls.length).toBe(first + 1);
      sgdFlatStepRef(
        p.r,
        g.r,
        m.r,
        later.map((s) => ({ ...s, firstStep: true })),
      );
    } finally {
      uploads.mockRestore();
    }
    await expectClose(p.t, p.r, { atol: 1e-6, rtol: 1e-5 }, 'params');
    await expectClose(m.t, m.r, { atol: 1e-6, rtol: 1e-5 }, 'momentum');
    g.t.dispose();
  });

  it('runs without momentum buffers when no segment has momentum, and names bad arguments', async () => {
    const seg = { offset: 0, size: 3, lr: 1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 };
    const p = Tensor.fromArray([1, 2, 3, 0], [4]);
    sgdFlatStep(p, Tensor.fromArray([1, 1, 1, 0], [4]), null, [{ ...seg, firstStep: true }]);
    expect(Array.from(await p.toArray())).toEqual([0, 1, 2, 0]);
    expect(() => sgdFlatStep(p, p, null, [{ ...seg, momentum: 0.9, firstStep: true }])).toThrow(
      /sgdFlatStep: segment 0 has momentum 0.9: pass the flat momentum buffers/,
    );
    expect(() => sgdFlatStep(p, p, null, [{ ...seg, nesterov: true, firstStep: true }])).toThrow(/Nesterov/);
  });
});
