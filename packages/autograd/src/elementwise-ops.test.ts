// pow, abs, clamp, maximum, minimum, gelu, silu, leakyRelu, softplus, erf, reciprocal: gradcheck
// at PyTorch's defaults (float64 on cpu64), the GPU's gradients against float64, and PyTorch's
// values and gradients (test/fixtures/elementwise-golden, with NaN, infinities and signed zeros)
// through the autograd API on both backends.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, type CheckFn, type CheckInput, type Tensor } from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(16);
/** Seeded values at least `gap` from every point in `avoid` (the kinks), optionally positive. */
function rand(
  shape: number[],
  opts: { positive?: boolean; avoid?: number[]; requiresGrad?: boolean } = {},
): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  const avoid = opts.avoid ?? [0];
  const data = Float64Array.from({ length: n }, () => {
    for (;;) {
      const v = opts.positive ? 0.3 + Math.abs(rng.normal()) : 1.5 * rng.normal();
      if (avoid.every((k) => Math.abs(v - k) > 0.05)) return v;
    }
  });
  return { data, shape, requiresGrad: opts.requiresGrad };
}
const values = (data: number[], shape: number[], requiresGrad = true): CheckInput => ({ data, shape, requiresGrad });

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  it('abs, reciprocal, erf, gelu (both forms), silu', async () => {
    for (const f of [F.abs, F.erf, F.silu, F.gelu, (x: Tensor) => F.gelu(x, 'tanh')]) {
      await check((x) => f(x), [rand([3, 5])]);
    }
    await check((x) => F.reciprocal(x), [rand([7], { avoid: [0, 0.1, -0.1, 0.2, -0.2] })]);
    await check((x) => F.erf(x), [rand([2, 3], { positive: true })]); // the erf64 series at larger x
  });
  it('leakyRelu and softplus with their options', async () => {
    await check((x) => F.leakyRelu(x), [rand([4, 3])]);
    await check((x) => F.leakyRelu(x, 0.2), [rand([5])]);
    await check((x) => F.softplus(x), [rand([4, 3])]);
    // beta 2 and threshold 1: both branches (beta x > 1 returns x).
    await check((x) => F.softplus(x, 2, 1), [rand([9], { avoid: [0.5] })]);
  });
  it('clamp with both bounds, one, and min > max', async () => {
    const avoid = [-0.5, 0.7, 1];
    await check((x) => F.clamp(x, -0.5, 0.7), [rand([3, 4], { avoid })]);
    await check((x) => F.clamp(x, -0.5), [rand([6], { avoid })]);
    await check((x) => F.clamp(x, null, 0.7), [rand([6], { avoid })]);
    await check((x) => F.clamp(x, 1, -0.5), [rand([6], { avoid })]);
  });
  it('maximum and minimum with broadcasting and a tie (the gradient splits)', async () => {
    await check((a, b) => F.maximum(a, b), [rand([3, 1, 4]), rand([2, 4])]);
    await check((a, b) => F.minimum(a, b), [rand([2, 4]), rand([4])]);
    await check((a, b) => F.maximum(a, b), [values([1, 2, 3], [3]), values([1, 0, 5], [3])]);
    await check((a, b) => F.minimum(a, b), [values([1, 2, 3], [3]), values([1, 0, 5], [3])]);
  });
  it('pow with number exponents (the special ones too) and tensor exponents with broadcasting', async () => {
    for (const e of [2, 3, -1, -2, 1, 0, 1.7, -0.3])
      await check((x) => F.pow(x, e), [rand([2, 3], { positive: true })]);
    for (const e of [0.5, -0.5]) await check((x) => F.pow(x, e), [rand([5], { positive: true })]);
    for (const e of [2, 3, -1, 4]) await check((x) => F.pow(x, e), [rand([5], { avoid: [0] })]); // negative bases
    await check((a, b) => F.pow(a, b), [rand([3, 1], { positive: true }), rand([2, 1, 4])]);
    // Negative bases with integer exponents: the base's gradient only (log of a negative base is NaN).
    await check((a, b) => F.pow(a, b), [rand([4]), values([2, 3, -1, 0], [4], false)]);
  });
});

describe('GPU gradients against float64', () => {
  it('a composition of every op', async () => {
    const fn: CheckFn = (x, y) =>
      F.add(
        F.mul(F.gelu(x), F.silu(F.maximum(x, y))),
        F.add(
          F.softplus(F.leakyRelu(F.minimum(x, y), 0.1)),
          F.mul(F.erf(F.clamp(F.abs(y), 0.2, 1.5)), F.pow(F.reciprocal(F.add(F.abs(x), 1)), y)),
        ),
      );
    const r = await checkGpuGradients(fn, [rand([3, 7]), rand([7])]);
    expect(r.ok, r.message).toBe(true);
    const p = await checkGpuGradients(
      (x) => F.add(F.pow(x, 2.5), F.gelu(x, 'tanh')),
      [rand([2, 9], { positive: true })],
    );
    expect(p.ok, p.message).toBe(true);
  });
  it('Tensor methods', async () => {
    const x = tensor([-2, -0.5, 0, 1.5], [4]);
    const got = await x.abs().clamp(0.2, null).pow(2).maximum(x).minimum(x.erf().reciprocal()).toArray();
    const expected = [-2, -0.5, 0, 1.5].map((v) => {
      const t = Math.max(Math.abs(v), 0.2) ** 2;
      return Math.min(Math.max(t, v), 1 / F_erf(v));
    });
    for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
  });
});

/** erf through the float64 reference, for the method test's expectations. */
function F_erf(v: number): number {
  const t = tensor([v], [1], { backend: 'cpu64' });
  return (F.erf(t).raw as { data: Float64Array }).data[0];
}

// ---- PyTorch's values (test/fixtures/elementwise-golden) ----

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

type Args = (number | string | null)[];
const UNARY: Record<string, (x: Tensor, args: Args) => Tensor> = {
  abs: (x) => F.abs(x),
  reciprocal: (x) => F.reciprocal(x),
  erf: (x) => F.erf(x),
  gelu: (x, [a]) => F.gelu(x, a as 'none' | 'tanh'),
  silu: (x) => F.silu(x),
  leaky_relu: (x, [s]) => F.leakyRelu(x, (s as number | undefined) ?? undefined),
  softplus: (x, [beta, th]) => F.softplus(x, (beta as number | undefined) ?? undefined, (th as number) ?? undefined),
  clamp: (x, [lo, hi]) => F.clamp(x, lo as number | null, hi as number | null),
  pow: (x, [e]) => F.pow(x, e as number),
};

describe('elementwise-golden (PyTorch 1.13, float64) through the autograd API', () => {
  const fx = loadFixture('elementwise-golden');
  const get = (k: string) => {
    const t = fx.tensors.get(k);
    if (!t) throw new Error(`elementwise-golden: key ${k} missing; remake with scripts/make-fixtures.py`);
    return t;
  };
  const cases = JSON.parse(fx.metadata.unary) as [string, string, Args][];
  // float32 kernels against float64 PyTorch; the references against the same values stored as float32.
  const TOL: Record<BackendName, number[]> = { gpu: [2e-6, 2e-4], cpu64: [1e-7, 1e-6] };

  for (const backend of ['gpu', 'cpu64'] as const) {
    const leaf = (k: string) => tensor(get(k).data as Float32Array, get(k).shape, { backend, requiresGrad: true });
    const value = (k: string) => tensor(get(k).data as Float32Array, get(k).shape, { backend });
    const expectKey = async (t: Tensor | null, key: string) => {
      expect(t, `${key}: no tensor`).not.toBeNull();
      expectSpecialClose(await t!.toArray(), get(key).data as Float32Array, `${backend} ${key}`, TOL[backend]);
    };

    it(`${backend}: every unary case (${cases.length}) forward and backward`, async () => {
      expect(cases.length).toBeGreaterThan(20);
      for (const [key, op, args] of cases) {
        const f = UNARY[op];
        expect(f, `unknown op ${op} in the fixture`).toBeDefined();
        const x = leaf('x');
        const y = f(x, args);
        y.backward(value('dy'));
        await expectKey(y, `${key}.y`);
        await expectKey(x.grad, `${key}.dx`);
      }
    });

    it(`${backend}: maximum, minimum and pow of broadcast tensors`, async () => {
      for (const [key, f, a, b] of [
        ['maximum', F.maximum, 'ab.a', 'ab.b'],
        ['minimum', F.minimum, 'ab.a', 'ab.b'],
        ['pow', F.pow, 'pow.a', 'pow.b'],
      ] as const) {
        const ta = leaf(a);
        const tb = leaf(b);
        const y = f(ta, tb);
        y.backward(value('ab.dy'));
        await expectKey(y, `${key}.y`);
        await expectKey(ta.grad, `${key}.da`);
        await expectKey(tb.grad, `${key}.db`);
      }
    });
  }
});

describe('bad arguments', () => {
  it('name the function and the fix', () => {
    const x = tensor([1, 2], [2]);
    expect(() => F.clamp(x)).toThrow(/clamp: at least one of 'min' or 'max'/);
    expect(() => F.clamp(x, NaN)).toThrow(/clamp: min is NaN/);
    expect(() => F.gelu(x, 'fast' as 'tanh')).toThrow(/gelu: approximate must be 'none' or 'tanh'/);
    expect(() => F.softplus(x, 0)).toThrow(/softplus: beta must be finite and nonzero/);
    expect(() => F.maximum(x, tensor([1, 2, 3], [3]))).toThrow(/maximum: shapes \[2\] and \[3\] do not broadcast/);
  });
});
