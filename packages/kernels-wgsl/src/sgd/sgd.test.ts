import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { sgdStep, sgdStepRef, type SgdOptions } from './index.js';
import { resnet20ParamShapes } from './resnet20-shapes.js';
import { expectClose, pair, type Pair } from '../elementwise/test-util.js';

beforeAll(async () => {
  await getRuntime();
});

async function check(shapes: number[][], opts: Omit<SgdOptions, 'firstStep'>, steps = 2): Promise<void> {
  const ps = shapes.map((s, i) => pair(s, i));
  const ms = shapes.map((s, i) => pair(s, 500 + i));
  let pr = ps.map((p) => p.r);
  let mr = ms.map((m) => m.r);
  for (let step = 0; step < steps; step++) {
    const gs: Pair[] = shapes.map((s, i) => pair(s, 1000 * (step + 1) + i));
    const o = { ...opts, firstStep: step === 0 };
    sgdStep(
      ps.map((p) => p.t),
      gs.map((g) => g.t),
      opts.momentum ? ms.map((m) => m.t) : [],
      o,
    );
    const r = sgdStepRef(
      pr,
      gs.map((g) => g.r),
      mr,
      o,
    );
    pr = r.params;
    if (opts.momentum) mr = r.momentumBufs;
  }
  for (let i = 0; i < shapes.length; i++) {
    await expectClose(ps[i].t, pr[i], { atol: 1e-6, rtol: 1e-5 }, `param ${i}`);
    if (opts.momentum) await expectClose(ms[i].t, mr[i], { atol: 1e-6, rtol: 1e-5 }, `momentum ${i}`);
  }
}

describe('sgdStep vs float64', () => {
  const shapes = [[1], [5], [300], [3, 3], [257], [16, 3, 3, 3], [10, 64], [10], [7, 7]];
  it('momentum + weight decay (two steps, first-step rule)', () =>
    check(shapes, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }));
  it('per-parameter weight decay and dampening', () =>
    check(shapes, { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: shapes.map((_, i) => (i % 2 ? 0 : 1e-2)) }));
  it('nesterov', () => check(shapes, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }, 3));
  it('plain SGD without momentum buffers', () => check(shapes, { lr: 0.3, momentum: 0, weightDecay: 1e-2 }));
  it('ResNet20 parameters in a few dispatches', async () => {
    const shapes20 = resnet20ParamShapes();
    expect(shapes20.length).toBe(65);
    const before = runtime().dispatcher.counters.dispatches;
    await check(shapes20, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }, 1);
    expect(runtime().dispatcher.counters.dispatches - before).toBeLessThanOrEqual(14);
  });
});

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const p = Tensor.zeros([3]);
    const opts = { lr: 0.1, momentum: 0.9, weightDecay: 0, firstStep: true };
    expect(() => sgdStep([p], [Tensor.zeros([4])], [Tensor.zeros([3])], opts)).toThrow(
      /sgdStep: params\[0\] \[3\] and grads\[0\] \[4\] must have the same shape/,
    );
    expect(() => sgdStep([p], [p], [], opts)).toThrow(/sgdStep: momentum 0.9 needs one momentum buffer per parameter/);
    expect(() => sgdStep([p], [p], [p], { ...opts, weightDecay: [1, 2] })).toThrow(
      /weightDecay has 2 values for 1 params/,
    );
    expect(() => sgdStep([p], [Tensor.zeros([3], 'i32')], [p], opts)).toThrow(/grads\[0\] must be f32/);
  });
});
