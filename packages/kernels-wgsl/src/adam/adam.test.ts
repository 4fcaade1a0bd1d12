// adamFlatStep against its float64 reference over awkward segment sizes (empty, odd, not a
// multiple of 4, more than one workgroup), several steps, every variant; one dispatch.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { adamFlatStep, adamFlatStepRef, type AdamOptions, type AdamSegment } from './index.js';
import { expectClose, pair } from '../elementwise/test-util.js';
import type { F64 } from '../common/f64.js';

beforeAll(async () => {
  await getRuntime();
});

const SIZES = [1, 5, 0, 300, 3, 1024, 2051, 7];

/** Segments packed at offsets rounded up to 4, with per-segment hyperparameters. */
function layout(): { segments: AdamSegment[]; total: number } {
  let at = 0;
  const segments = SIZES.map((size, k) => {
    const s = {
      offset: at,
      size,
      lr: k % 2 ? 1e-3 : 3e-2,
      beta1: 0.9,
      beta2: k === 3 ? 0.99 : 0.999,
      eps: 1e-8,
      weightDecay: k % 3 === 0 ? 0 : 1e-2,
      step: 1,
    };
    at += Math.ceil(size / 4) * 4;
    return s;
  });
  return { segments, total: at };
}

/** Zero padding after each segment, as the optimizer keeps it. */
function flatPair(total: number, segments: AdamSegment[], seed: number, scale = 1, abs = false) {
  const p = pair([total], seed, scale);
  const inside = new Set<number>();
  for (const s of segments) for (let i = s.offset; i < s.offset + s.size; i++) inside.add(i);
  const v = Float32Array.from(p.r.data, (x, i) => (inside.has(i) ? (abs ? Math.abs(x) : x) : 0));
  return { t: Tensor.fromArray(v, [total]), r: { data: Float64Array.from(v), shape: [total] } as F64 };
}

async function check(options: AdamOptions, steps = 3, spread = false): Promise<void> {
  const { segments: base, total } = layout();
  // spread: a learning rate per segment, 8 distinct settings: two dispatches of at most 7.
  const segments = spread ? base.map((s, k) => ({ ...s, lr: 1e-3 * (k + 1) })) : base;
  const p = flatPair(total, segments, 1);
  const m = flatPair(total, segments, 2, 0.1);
  const v = flatPair(total, segments, 3, 0.01, true);
  const vmax = flatPair(total, segments, 4, 0.01, true);
  for (let step = 1; step <= steps; step++) {
    const g = flatPair(total, segments, 10 + step);
    const segs = segments.map((s, k) => ({ ...s, step: step + (k === 1 ? 5 : 0) }));
    const before = runtime().dispatcher.counters.dispatches;
    adamFlatStep(p.t, g.t, m.t, v.t, options.amsgrad ? vmax.t : null, segs, options);
    expect(runtime().dispatcher.counters.dispatches - before).toBe(spread ? 2 : 1);
    adamFlatStepRef(p.r, g.r, m.r, v.r, options.amsgrad ? vmax.r : null, segs, options);
    g.t.dispose();
  }
  const tol = { atol: 1e-6, rtol: 1e-5 };
  await expectClose(p.t, p.r, tol, 'params');
  await expectClose(m.t, m.r, tol, 'expAvg');
  await expectClose(v.t, v.r, tol, 'expAvgSq');
  if (options.amsgrad) await expectClose(vmax.t, vmax.r, tol, 'maxExpAvgSq');
  for (const x of [p, m, v, vmax]) x.t.dispose();
}

describe('adamFlatStep vs float64', () => {
  it('Adam (L2 weight decay)', () => check({ decoupled: false, amsgrad: false }));
  it('AdamW (decoupled weight decay)', () => check({ decoupled: true, amsgrad: false }));
  it('Adam with amsgrad', () => check({ decoupled: false, amsgrad: true }));
  it('AdamW with amsgrad, maximize', () => check({ decoupled: true, amsgrad: true, maximize: true }));
  it('AdamW, 8 distinct settings (two dispatches)', () => check({ decoupled: true, amsgrad: false }, 3, true));
});

describe('bad arguments', () => {
  it('name the kernel, the segment and the fix', () => {
    const t = () => Tensor.zeros([8]);
    const s = { offset: 0, size: 3, lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, step: 1 };
    const o = { decoupled: false, amsgrad: false };
    expect(() => adamFlatStep(t(), t(), t(), Tensor.zeros([9]), null, [s], o)).toThrow(
      /adamFlatStep: expAvgSq \[9\] has 9 elements, params 8/,
    );
    expect(() => adamFlatStep(t(), t(), t(), t(), null, [s, { ...s, offset: 2 }], o)).toThrow(
      /segment 1 \{offset: 2, size: 3\} must start at a multiple of 4, after segment 0 \(which ends at 3\)/,
    );
    expect(() => adamFlatStep(t(), t(), t(), t(), null, [{ ...s, offset: 4, size: 5 }], o)).toThrow(
      /fit the flat buffers of 8 elements/,
    );
    expect(() => adamFlatStep(t(), t(), t(), t(), null, [{ ...s, step: 0 }], o)).toThrow(/step 0 must be/);
    expect(() => adamFlatStep(t(), t(), t(), t(), null, [s], { ...o, amsgrad: true })).toThrow(/maxExpAvgSq/);
  });
});
