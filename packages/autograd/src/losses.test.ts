// The losses through the autograd API: nllLoss, mseLoss, binaryCrossEntropyWithLogits and
// crossEntropy, each with reduction 'none', 'mean' and 'sum': gradcheck at PyTorch's defaults
// (float64 on cpu64), the GPU's gradients against float64, PyTorch's values and gradients
// (test/fixtures/layers-golden) on both backends, and the argument errors.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, type CheckFn, type CheckInput, type Tensor } from './index.js';
import type { BackendName } from './backend.js';
import type { Reduction } from './functional/loss.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(18);
function rand(shape: number[], scale = 1.5, requiresGrad = true): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => scale * rng.normal()), shape, requiresGrad };
}
function uniform(shape: number[], lo: number, hi: number, requiresGrad = true): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.next()), shape, requiresGrad };
}
/** A constant tensor beside the checked ones (class or element weights). */
const constant = (x: CheckInput, like: Tensor) => tensor(x.data, x.shape, { backend: like.backend });

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

const REDUCTIONS: Reduction[] = ['none', 'mean', 'sum'];

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  const w5 = uniform([5], 0.5, 2, false);
  it('nllLoss: [N, C] and [N, C, d...], class weights, ignored targets, every reduction', async () => {
    for (const reduction of REDUCTIONS) {
      await check((x) => F.nllLoss(x, [0, 4, -100, 2, 2], { reduction }), [rand([5, 5])]);
      await check((x) => F.nllLoss(x, [1, 3, 3, 0], { reduction, weight: constant(w5, x) }), [rand([4, 5])]);
      await check((x) => F.nllLoss(x, [0, 2, 2, 1, 3, -100], { reduction }), [rand([2, 4, 3])]);
      await check(
        (x) => F.nllLoss(x, tensor([3, 3, 1], { dtype: 'int32', backend: x.backend }), { reduction, ignoreIndex: 1 }),
        [rand([3, 4])],
      );
    }
  });
  it('mseLoss, also broadcasting the target', async () => {
    for (const reduction of REDUCTIONS) {
      await check((a, b) => F.mseLoss(a, b, { reduction }), [rand([3, 4]), rand([3, 4])]);
      await check((a, b) => F.mseLoss(a, b, { reduction }), [rand([2, 3]), rand([3])]);
    }
  });
  it('binaryCrossEntropyWithLogits for input and target, with weight and posWeight', async () => {
    const w = uniform([3, 4], 0.5, 2, false);
    const pw = uniform([4], 0.3, 3, false);
    const wRow = uniform([3, 1], 0.5, 2, false); // not a trailing block: expanded before the kernel
    for (const reduction of REDUCTIONS) {
      await check(
        (x, t) => F.binaryCrossEntropyWithLogits(x, t, { reduction }),
        [rand([3, 4], 3), uniform([3, 4], 0, 1)],
      );
      await check(
        (x, t) =>
          F.binaryCrossEntropyWithLogits(x, t, { reduction, weight: constant(w, x), posWeight: constant(pw, x) }),
        [rand([3, 4], 3), uniform([3, 4], 0, 1)],
      );
      await check(
        (x, t) => F.binaryCrossEntropyWithLogits(x, t, { reduction, weight: constant(wRow, x) }),
        [rand([3, 4], 3), uniform([3, 4], 0, 1)],
      );
    }
  });
  it('crossEntropy with each reduction, with and without label smoothing', async () => {
    for (const reduction of REDUCTIONS) {
      for (const labelSmoothing of [0, 0.2]) {
        await check((x) => F.crossEntropy(x, [2, 0, 3, 3], { reduction, labelSmoothing }), [rand([4, 5])]);
      }
    }
  });
});

describe('GPU gradients against float64', () => {
  it('every loss and reduction', async () => {
    const labels = Int32Array.from({ length: 37 }, (_, i) => (i % 9 === 4 ? -100 : (i * 7) % 10));
    const ceLabels = labels.map((v) => (v < 0 ? 0 : v));
    const w = uniform([10], 0.5, 2, false);
    for (const reduction of REDUCTIONS) {
      const fns: [string, CheckFn, CheckInput[]][] = [
        ['nllLoss', (x) => F.nllLoss(F.logSoftmax(x), labels, { reduction, weight: constant(w, x) }), [rand([37, 10])]],
        ['mseLoss', (a, b) => F.mseLoss(a, b, { reduction }), [rand([37, 10]), rand([37, 10])]],
        [
          'binaryCrossEntropyWithLogits',
          (x, t) => F.binaryCrossEntropyWithLogits(x, t, { reduction, posWeight: constant(w, x) }),
          [rand([37, 10], 4), uniform([37, 10], 0, 1)],
        ],
        ['crossEntropy', (x) => F.crossEntropy(x, ceLabels, { reduction, labelSmoothing: 0.1 }), [rand([37, 10])]],
      ];
      for (const [name, fn, inputs] of fns) {
        const r = await checkGpuGradients(fn, inputs);
        expect(r.ok, `${name} ${reduction}: ${r.message}`).toBe(true);
      }
    }
  });
  it('nllLoss with int32 targets on the GPU, [N, C, d...]', async () => {
    const t = [0, 2, 1, 1, 0, 2];
    const fn: CheckFn = (x) =>
      F.nllLoss(x, tensor(t, [2, 3], { dtype: 'int32', backend: x.backend }), { reduction: 'mean' });
    const r = await checkGpuGradients(fn, [rand([2, 3, 3])]);
    expect(r.ok, r.message).toBe(true);
  });
});

describe('values', () => {
  it('nllLoss mean divides by the weights of the targets not ignored; NaN when all are ignored', async () => {
    const x = tensor([-1, -2, -3, -4, -5, -6], [3, 2]);
    const w = tensor([2, 0.5], [2]);
    // (-2 * -1 + -0.5 * -4) / (2 + 0.5): row 2 ignored.
    expect(await F.nllLoss(x, [0, 1, -100], { weight: w }).item()).toBeCloseTo(4 / 2.5, 6);
    expect(await F.nllLoss(x, [0, 1, -100], { weight: w, reduction: 'sum' }).item()).toBeCloseTo(4, 6);
    expect(Number.isNaN(await F.nllLoss(x, [-100, -100, -100]).item())).toBe(true);
    expect(F.nllLoss(x, [0, 1, 1]).shape).toEqual([]);
    expect(F.nllLoss(x, [0, 1, 1], { reduction: 'none' }).shape).toEqual([3]);
    // [N, C, d]: a nested list of targets [N, d], or the same values flat.
    const x3 = tensor([-1, -2, -3, -4, -5, -6, -7, -8], [2, 2, 2]);
    const nested = await F.nllLoss(
      x3,
      [
        [0, 1],
        [1, 0],
      ],
      { reduction: 'none' },
    ).toArray();
    expect(Array.from(nested)).toEqual([1, 4, 7, 6]);
    expect(Array.from(await F.nllLoss(x3, [0, 1, 1, 0], { reduction: 'none' }).toArray())).toEqual([1, 4, 7, 6]);
  });
  it('binaryCrossEntropyWithLogits is finite for logits of +-100', async () => {
    const x = tensor([100, -100, 100, -100], [4]);
    const t = tensor([1, 0, 0, 1], [4]);
    const l = Array.from(await F.binaryCrossEntropyWithLogits(x, t, { reduction: 'none' }).toArray());
    expect(l).toEqual([0, 0, 100, 100]);
  });
  it('crossEntropy sum is N times the mean; none gives one loss per row', async () => {
    const x = tensor([1, 2, 3, 0, -1, 4], [2, 3]);
    const m = await F.crossEntropy(x, [2, 0]).item();
    expect(await F.crossEntropy(x, [2, 0], { reduction: 'sum' }).item()).toBeCloseTo(2 * m, 5);
    const none = await F.crossEntropy(x, tensor([2, 0], { dtype: 'int32' }), { reduction: 'none' }).toArray();
    expect((none[0] + none[1]) / 2).toBeCloseTo(m, 5);
  });
});

describe('bad arguments', () => {
  it('name the function, the values and the fix', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => F.nllLoss(x, [0, 3])).toThrow(
      'nllLoss: label 3 at index 1 is not a class index: ' +
        'with 3 classes a label is an integer in [0, 2] or the ignoreIndex -100.',
    );
    expect(() => F.nllLoss(x, [0])).toThrow(/nllLoss: target \[1\] does not fit input \[2, 3\]; need \[2\]/);
    expect(() => F.nllLoss(x, [[0], [1]])).toThrow(/nllLoss: target \[2, 1\] does not fit input \[2, 3\]/);
    expect(() => F.nllLoss(x, tensor([0, 1], [2]))).toThrow(/nllLoss: target must be an int32 tensor, got float32/);
    expect(() => F.nllLoss(x, [0, 1], { weight: tensor([1, 2], [2]) })).toThrow(/nllLoss: weight \[2\] must be \[3\]/);
    expect(() => F.nllLoss(tensor([1, 2], [2]), [0])).toThrow(/nllLoss: input must be \[N, C\] or \[N, C, d...\]/);
    expect(() => F.nllLoss(x, [0, 1], { reduction: 'avg' as Reduction })).toThrow(
      /nllLoss: reduction must be 'none', 'mean' or 'sum', got 'avg'/,
    );
    expect(() => F.mseLoss(x, x, { reduction: 'max' as Reduction })).toThrow(/mseLoss: reduction must be/);
    expect(() => F.binaryCrossEntropyWithLogits(x, x, { weight: tensor([1, 2], [2]) })).toThrow(
      /binaryCrossEntropyWithLogits: weight \[2\] does not broadcast to input \[2, 3\]/,
    );
    expect(() => F.binaryCrossEntropyWithLogits(x, tensor([1, 2, 3], [3]))).toThrow(
      /binaryCrossEntropyWithLogits: target \[3\] must have the input's shape \[2, 3\]/,
    );
    expect(() => F.crossEntropy(x, [0, 1], { reduction: 'all' as Reduction })).toThrow(/crossEntropy: reduction/);
    expect(() => F.crossEntropy(x, tensor([0, 1], [2]))).toThrow(/crossEntropy: labels must be an int32 tensor/);
  });
});

// ---- PyTorch's values (test/fixtures/layers-golden) ----

type Case = [string, string, string[], Record<string, string>, Record<string, unknown>];
type Args = Record<string, unknown> & { reduction: Reduction };
const OPS: Record<string, (xs: Tensor[], ex: Record<string, Tensor>, a: Args) => Tensor> = {
  nllLoss: ([x], ex, a) =>
    F.nllLoss(x, ex.target, { weight: ex.weight, ignoreIndex: a.ignoreIndex as number, reduction: a.reduction }),
  mseLoss: ([a, b], _ex, o) => F.mseLoss(a, b, o),
  binaryCrossEntropyWithLogits: ([x, t], ex, a) => F.binaryCrossEntropyWithLogits(x, t, { ...ex, ...a }),
  crossEntropy: ([x], ex, a) =>
    F.crossEntropy(x, ex.labels, { reduction: a.reduction, labelSmoothing: a.labelSmoothing as number }),
};

describe('layers-golden (PyTorch 1.13, float64) through the autograd API', () => {
  const fx = loadFixture('layers-golden');
  const get = (k: string) => {
    const t = fx.tensors.get(k);
    if (!t) throw new Error(`layers-golden: key ${k} missing; remake with scripts/make-fixtures.py`);
    return t;
  };
  const cases = (JSON.parse(fx.metadata.cases) as Case[]).filter(([, op]) => op in OPS);
  const TOL: Record<BackendName, [number, number]> = { gpu: [2e-5, 2e-4], cpu64: [1e-6, 1e-5] };

  for (const backend of ['gpu', 'cpu64'] as const) {
    const load = (k: string, requiresGrad = false) => {
      const t = get(k);
      const dtype = t.data instanceof Int32Array ? 'int32' : 'float32';
      return tensor(t.data as Float32Array, t.shape, { backend, requiresGrad, dtype });
    };
    const expectClose = async (t: Tensor | null, key: string) => {
      expect(t, `${key}: no tensor`).not.toBeNull();
      const got = await t!.toArray();
      const e = get(key);
      // PyTorch's scalars are 0-d; crossEntropy's mean and sum keep this library's [1].
      expect(t!.size, key).toBe(e.data.length);
      const [atol, rtol] = TOL[backend];
      for (let i = 0; i < got.length; i++) {
        const want = Number(e.data[i]);
        if (!(Math.abs(got[i] - want) <= atol + rtol * Math.abs(want)))
          expect.fail(`${backend} ${key}: element ${i} is ${got[i]}, PyTorch's ${want}`);
      }
    };
    it(`${backend}: every loss case, forward and backward`, async () => {
      expect(cases.length).toBeGreaterThanOrEqual(25);
      for (const [key, op, leaves, extras, args] of cases) {
        const xs = leaves.map((k) => load(k, true));
        const ex = Object.fromEntries(Object.entries(extras).map(([name, k]) => [name, load(k)]));
        const y = OPS[op](xs, ex, args as Args);
        y.backward(fx.tensors.has(`${key}.dy`) ? load(`${key}.dy`) : undefined);
        await expectClose(y, `${key}.y`);
        for (let i = 0; i < xs.length; i++) await expectClose(xs[i].grad, `${key}.d${i}`);
      }
    });
  }
});
