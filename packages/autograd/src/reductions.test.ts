// max, min, amax, amin, argmax, argmin, logsumexp, var, std, prod, softmax and logSoftmax over
// any dim: gradcheck at PyTorch's defaults (float64 on cpu64), the GPU's gradients against
// float64, and PyTorch's values and gradients (test/fixtures/reduce-golden: ties, NaN,
// infinities, zeros) through the autograd API on both backends.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, tidy, type CheckFn, type CheckInput, type Tensor } from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(1617);
/** Seeded distinct values (no ties, so max/min are differentiable), optionally positive. */
function rand(shape: number[], positive = false): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  const data = Float64Array.from({ length: n }, () => (positive ? 0.5 + Math.abs(rng.normal()) : 1.5 * rng.normal()));
  return { data, shape };
}

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  it('max and min: full, along a dim (keepdim or not), amax/amin over dim lists', async () => {
    await check((x) => F.max(x), [rand([3, 4])]);
    await check((x) => F.min(x), [rand([5])]);
    await check((x) => F.max(x, 1).values, [rand([3, 4, 2])]);
    await check((x) => F.min(x, -1, true).values, [rand([3, 4])]);
    await check((x) => F.max(x, 0).values, [rand([4])]);
    await check((x) => F.amax(x, [0, 2]), [rand([3, 2, 4])]);
    await check((x) => F.amin(x, 1, true), [rand([3, 5])]);
  });
  it('logsumexp, var, std over dims and lists', async () => {
    await check((x) => F.logsumexp(x, 1), [rand([3, 4])]);
    await check((x) => F.logsumexp(x, [0, 2], true), [rand([2, 3, 4])]);
    await check((x) => F.logsumexp(x), [rand([6])]);
    for (const unbiased of [true, false]) {
      await check((x) => F.variance(x, 1, unbiased), [rand([3, 4])]);
      await check((x) => F.variance(x, [0, 2], unbiased, true), [rand([2, 3, 4])]);
      await check((x) => F.std(x, null, unbiased), [rand([3, 4])]);
      await check((x) => F.std(x, [2, 0], unbiased), [rand([2, 3, 4])]);
    }
  });
  it('prod: no zero, one zero, two zeros (the product is linear in each term, so differences are exact)', async () => {
    await check((x) => F.prod(x, 1), [rand([3, 4])]);
    await check((x) => F.prod(x), [rand([5])]);
    await check((x) => F.prod(x, 0, true), [{ data: [2, 0, 3, 0, 0, 1.5, 0.5, 2, 4, 1, 0, 3], shape: [4, 3] }]);
    await check((x) => F.prod(x), [{ data: [2, 0, 3, 1.5], shape: [2, 2] }]);
    await check((x) => F.prod(x), [{ data: [2, 0, 3, 0], shape: [4] }]);
  });
  it('softmax and logSoftmax over every dim of a 3-D tensor', async () => {
    for (const dim of [0, 1, 2, -1, -3]) {
      await check((x) => F.softmax(x, dim), [rand([3, 4, 2])]);
      await check((x) => F.logSoftmax(x, dim), [rand([3, 4, 2])]);
    }
  });
});

describe('GPU gradients against float64', () => {
  it('a composition of every reduction', async () => {
    const fn: CheckFn = (x) =>
      F.add(
        F.add(
          F.mul(F.max(x, 1, true).values, F.logsumexp(x, [0, 2], true)),
          F.std(F.softmax(x, 0), [1, 2], true, true),
        ),
        F.add(F.mul(F.min(x), F.variance(F.logSoftmax(x, 1), 2, false, true)), F.prod(x, 2, true)),
      );
    const r = await checkGpuGradients(fn, [rand([3, 4, 5])]);
    expect(r.ok, r.message).toBe(true);
  });
  it('ties: max() spreads the gradient evenly, max(dim) sends it to the first index', async () => {
    for (const backend of ['gpu', 'cpu64'] as const) {
      const x = tensor([1, 3, 3, 2, 3, 0], [2, 3], { backend, requiresGrad: true });
      F.max(x).backward();
      const g = await x.grad!.toArray();
      [0, 1 / 3, 1 / 3, 0, 1 / 3, 0].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 6));
      x.zeroGrad();
      F.sum(F.max(x, 1).values).backward();
      expect([...(await x.grad!.toArray())]).toEqual([0, 1, 0, 0, 1, 0]);
    }
  });
  it('Tensor methods and int32 indices', async () => {
    const x = tensor([1, 5, 2, 7, 0, 3], [2, 3]);
    const m = x.max(1);
    expect(m.indices.dtype).toBe('int32');
    expect([...(await m.indices.toArray())]).toEqual([1, 0]);
    expect(await x.max().item()).toBe(7);
    expect(await x.min().item()).toBe(0);
    expect([...(await x.min(0, true).values.toArray())]).toEqual([1, 0, 2]);
    expect(await x.argmax().item()).toBe(3);
    expect([...(await x.argmin(1).toArray())]).toEqual([0, 1]);
    expect(x.argmax(0, true).shape).toEqual([1, 3]);
    expect(await x.prod().item()).toBe(0);
    expect(await x.var().item()).toBeCloseTo(6.8, 5);
    expect(await x.std(1, false).toArray()).toHaveLength(2);
    expect(await x.logsumexp().item()).toBeCloseTo(
      Math.log([1, 5, 2, 7, 0, 3].reduce((s, v) => s + Math.exp(v), 0)),
      5,
    );
    expect(x.softmax(0).shape).toEqual([2, 3]);
    expect(x.logSoftmax(-1).shape).toEqual([2, 3]);
    expect(await x.amax(0).toArray()).toEqual(Float32Array.of(7, 5, 3));
    expect(await x.amin([0, 1]).item()).toBe(0);
    // n - 1 = 0: NaN, as PyTorch (which also warns); biased: 0
    expect(await tensor([5], [1]).var().item()).toBeNaN();
    expect(await tensor([5], [1]).std(0, false).item()).toBe(0);
    // torch.max(input, other): the elementwise maximum
    const y = tensor([2, 2, 2, 2, 2, 2], [2, 3]);
    expect([...(await x.max(y).toArray())]).toEqual([2, 5, 2, 7, 2, 3]);
    expect([...(await F.min(x, y).toArray())]).toEqual([1, 2, 2, 2, 0, 2]);
  });
});

describe('memory', () => {
  it('forward and backward of every op (gpu) leave no buffer live', () => {
    const x = tensor(rand([3, 4, 5]).data, [3, 4, 5], { requiresGrad: true });
    const w = tensor(rand([5, 6]).data, [5, 6], { requiresGrad: true });
    const v = tensor(rand([5]).data, [5], { requiresGrad: true });
    const fns: ((x: Tensor) => Tensor)[] = [
      (x) => F.max(x),
      (x) => F.min(x, 1, true).values,
      (x) => F.amax(x, [0, 2]),
      (x) => F.mul(x, F.argmax(x, 2, true).shape.length),
      (x) => F.logsumexp(x, [0, 2]),
      (x) => F.variance(x, [0, 2]),
      (x) => F.std(x, 1, false, true),
      (x) => F.prod(x),
      (x) => F.prod(x, 1),
      (x) => F.softmax(x, 0),
      (x) => F.logSoftmax(x, 1),
      (x) => F.softmax(x),
      (x) => F.matmul(x, w),
      (x) => F.matmul(x, v),
      (x) => F.matmul(v, F.reshape(x, [3, 5, 4])),
      (x) => F.matmul(F.reshape(x, [3, 1, 4, 5]), F.reshape(x, [3, 5, 4])),
    ];
    const live = () => runtime().pool.getStats().liveBuffers;
    const before = live();
    for (const f of fns) {
      tidy(() => F.sum(f(x)).backward());
      for (const t of [x, w, v]) t.zeroGrad();
      expect(live(), String(f)).toBe(before);
    }
    for (const t of [x, w, v]) t.dispose();
  });
});

// ---- PyTorch's values (test/fixtures/reduce-golden) ----

/** NaN where PyTorch's is NaN, the same infinity, else within atol + rtol * |expected|. */
function expectSpecialClose(got: ArrayLike<number>, expected: ArrayLike<number>, label: string, tol: number[]): void {
  expect(got.length, label).toBe(expected.length);
  const [atol, rtol] = tol;
  for (let i = 0; i < got.length; i++) {
    const [g, e] = [got[i], expected[i]];
    const ok = Number.isNaN(e)
      ? Number.isNaN(g)
      : !Number.isFinite(e)
        ? g === e
        : Math.abs(g - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect.fail(`${label}: element ${i} is ${g}, PyTorch's ${e} (atol ${atol}, rtol ${rtol})`);
  }
}

type Args = (number | number[] | boolean | null)[];
type Out = { y: Tensor; indices?: Tensor };
const OPS: Record<string, (xs: Tensor[], args: Args) => Out> = {
  max: ([x], [dim, keepdim]) => (dim === null ? { y: F.max(x) } : pick(F.max(x, dim as number, keepdim as boolean))),
  min: ([x], [dim, keepdim]) => (dim === null ? { y: F.min(x) } : pick(F.min(x, dim as number, keepdim as boolean))),
  amax: ([x], [dim, keepdim]) => ({ y: F.amax(x, dim as number[], keepdim as boolean) }),
  amin: ([x], [dim, keepdim]) => ({ y: F.amin(x, dim as number[], keepdim as boolean) }),
  argmax: ([x], [dim, keepdim]) => ({ y: F.argmax(x, (dim as number | null) ?? undefined, keepdim as boolean) }),
  argmin: ([x], [dim, keepdim]) => ({ y: F.argmin(x, (dim as number | null) ?? undefined, keepdim as boolean) }),
  logsumexp: ([x], [dim, keepdim]) => ({ y: F.logsumexp(x, dim as number[], keepdim as boolean) }),
  var: ([x], [dim, unbiased, keepdim]) => ({ y: F.variance(x, dim as number[] | null, !!unbiased, !!keepdim) }),
  std: ([x], [dim, unbiased, keepdim]) => ({ y: F.std(x, dim as number[] | null, !!unbiased, !!keepdim) }),
  prod: ([x], [dim, keepdim]) => ({ y: F.prod(x, (dim as number | null) ?? undefined, keepdim as boolean) }),
  softmax: ([x], [dim]) => ({ y: F.softmax(x, dim as number) }),
  logSoftmax: ([x], [dim]) => ({ y: F.logSoftmax(x, dim as number) }),
  matmul: ([a, b]) => ({ y: F.matmul(a, b) }),
};
const pick = (r: F.MaxMin): Out => ({ y: r.values, indices: r.indices });

describe('reduce-golden (PyTorch 1.13, float64) through the autograd API', () => {
  const fx = loadFixture('reduce-golden');
  const get = (k: string) => {
    const t = fx.tensors.get(k);
    if (!t)
      throw new Error(`reduce-golden: key ${k} missing; remake with scripts/make-fixtures.py --only reduce-golden`);
    return t;
  };
  const cases = JSON.parse(fx.metadata.cases) as [string, string, string[], Args][];
  // float32 kernels against float64 PyTorch; the references against the same values stored as float32.
  const TOL: Record<BackendName, number[]> = { gpu: [2e-6, 2e-4], cpu64: [1e-7, 1e-6] };

  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`${backend}: every case (${cases.length}) forward, indices and backward`, async () => {
      expect(cases.length).toBeGreaterThan(40);
      for (const [key, op, names, args] of cases) {
        const f = OPS[op];
        expect(f, `unknown op ${op} in the fixture`).toBeDefined();
        const grad = !op.startsWith('arg');
        const xs = names.map((n) => tensor(get(n).data as Float32Array, get(n).shape, { backend, requiresGrad: grad }));
        const { y, indices } = f(xs, args);
        expect([...y.shape], `${key}.y shape`).toEqual([...get(`${key}.y`).shape]);
        if (!grad) expect(y.dtype, `${key} dtype`).toBe('int32');
        expectSpecialClose(
          await y.toArray(),
          get(`${key}.y`).data as Float32Array,
          `${backend} ${key}.y`,
          TOL[backend],
        );
        if (indices) {
          expect(indices.dtype).toBe('int32');
          expectSpecialClose(
            await indices.toArray(),
            get(`${key}.indices`).data as Float32Array,
            `${backend} ${key}.indices`,
            [0, 0],
          );
        }
        if (!grad) continue;
        y.backward(tensor(get(`${key}.dy`).data as Float32Array, get(`${key}.dy`).shape, { backend }));
        for (let i = 0; i < xs.length; i++) {
          expect(xs[i].grad, `${key}.d${i}`).not.toBeNull();
          expectSpecialClose(
            await xs[i].grad!.toArray(),
            get(`${key}.d${i}`).data as Float32Array,
            `${backend} ${key}.d${i}`,
            TOL[backend],
          );
        }
      }
    });
  }
});

describe('bad arguments', () => {
  it('name the function, the shapes and the fix', () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    expect(() => F.max(x, 2)).toThrow(/max: dim 2 is out of range for \[2, 2\]/);
    expect(() => F.max(tensor([], [0]))).toThrow(/max: x \[0\] is empty and max has no identity/);
    expect(() => F.argmin(tensor([], [2, 0]), 1)).toThrow(/argmin: dim 1 of x \[2, 0\] is empty/);
    expect(() => F.argmax(tensor([], [2, 0]))).toThrow(/argmax: x \[2, 0\] is empty and argmax has no identity/);
    expect(() => F.softmax(x, -3)).toThrow(/softmax: dim -3 is out of range/);
    expect(() => F.variance(x, [0, 5])).toThrow(/var: dim \[0,5\] is out of range/);
  });
});
