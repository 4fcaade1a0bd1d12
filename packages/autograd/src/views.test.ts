// Views and joins (transpose, permute, expand, squeeze, unsqueeze, narrow, slice, select, flatten,
// cat, stack, split, chunk): gradcheck at PyTorch's defaults on cpu64, the GPU's gradients
// against float64, Python's slice rules, errors; and PyTorch's values and gradients for every
// case of test/fixtures/views-golden (views, joins and indexing) on both backends.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, tensor, type CheckFn, type CheckInput, type Tensor } from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(1616);
function rand(shape: number[], requiresGrad = true): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => rng.normal()), shape, requiresGrad };
}

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

/** sum_i sum(pieces[i] * w_i) for fixed weights, so every piece's gradient differs. */
function weighted(pieces: Tensor[]): Tensor {
  return pieces.map((p, i) => F.sum(F.mul(p, i + 1.5))).reduce((a, b) => F.add(a, b));
}

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  it('transpose at any rank, permute, expand, squeeze, unsqueeze, flatten', async () => {
    await check((x) => F.transpose(x), [rand([3, 5])]);
    await check((x) => F.transpose(x, 0, 2), [rand([2, 3, 4])]);
    await check((x) => x.transpose(-1, 1), [rand([2, 3, 4, 2])]);
    await check((x) => x.permute([2, 0, 1]), [rand([2, 3, 4])]);
    await check((x) => F.expand(x, [2, 3, 4, 5]), [rand([3, 1, 5])]);
    await check((x) => x.expand([-1, 4]), [rand([3, 1])]);
    await check((x) => F.squeeze(F.unsqueeze(x.squeeze(1), -1)), [rand([3, 1, 5])]);
    await check((x) => x.flatten(1, 2), [rand([2, 3, 4])]);
  });
  it('narrow, slice with steps and negative bounds, select', async () => {
    await check((x) => F.narrow(x, 1, 1, 2), [rand([3, 4, 5])]);
    await check((x) => x.narrow(-1, -3, 3), [rand([3, 4, 5])]);
    await check((x) => F.slice(x, 1, 1, 4, 2), [rand([3, 4, 5])]);
    await check((x) => x.slice(2, -4, -1, 3), [rand([3, 4, 7])]);
    await check((x) => F.mul(F.slice(x, 0, null, null, 2), F.slice(x, 0, 1, null, 2)), [rand([6, 3])]);
    await check((x) => F.select(x, 1, -1), [rand([3, 4, 5])]);
    await check((x) => x.select(0, 2), [rand([3, 4])]);
  });
  it('cat, stack, split, chunk', async () => {
    await check((a, b, c) => F.cat([a, b, c], 1), [rand([2, 3, 2]), rand([2, 1, 2]), rand([2, 4, 2])]);
    await check((a, b) => F.cat([a, b, a], -1), [rand([3, 2]), rand([3, 1])]);
    await check((a, b) => F.stack([a, b, a], 1), [rand([3, 2]), rand([3, 2])]);
    await check((x) => weighted(F.split(x, 2, 1)), [rand([2, 5, 3])]);
    await check((x) => weighted(x.split([1, 0, 3], 0)), [rand([4, 3])]);
    await check((x) => weighted(x.chunk(3, -1)), [rand([2, 7])]);
  });
});

describe('GPU gradients against float64', () => {
  it('a composition of every view and join', async () => {
    const fn: CheckFn = (x, y) => {
      const a = F.cat([F.narrow(x, 1, 0, 3), F.expand(y, [4, 5, 4]).transpose(1, 2).slice(1, 1, null, 2)], 1);
      const b = F.stack(F.chunk(a, 2, 0), 0).select(1, -1);
      return F.mul(F.unsqueeze(b.squeeze(), 0), F.sum(x.slice(2, -3, null, 1)));
    };
    const r = await checkGpuGradients(fn, [rand([4, 5, 5]), rand([5, 1])]);
    expect(r.ok, r.message).toBe(true);
  });
});

describe("Python's slicing and PyTorch's shapes", () => {
  const x = tensor(
    Array.from({ length: 10 }, (_, i) => i),
    [10],
    { backend: 'cpu64' },
  );
  const values = async (t: Tensor) => Array.from(await t.toArray());
  it('clamps, counts from the end and steps as x[start:end:step]', async () => {
    expect(await values(F.slice(x, 0, -3))).toEqual([7, 8, 9]);
    expect(await values(F.slice(x, 0, 2, 8, 3))).toEqual([2, 5]);
    expect(await values(F.slice(x, 0, -100, 100, 4))).toEqual([0, 4, 8]);
    expect(await values(F.slice(x, 0, 5, 2))).toEqual([]);
    expect(await values(F.slice(x, 0, null, -7))).toEqual([0, 1, 2]);
    expect(await values(F.narrow(x, 0, -2, 2))).toEqual([8, 9]);
  });
  it('split and chunk give the pieces PyTorch gives', () => {
    const shapes = (ts: Tensor[]) => ts.map((t) => t.shape[0]);
    expect(shapes(F.split(x, 3))).toEqual([3, 3, 3, 1]);
    expect(shapes(F.chunk(x, 4))).toEqual([3, 3, 3, 1]);
    expect(shapes(F.chunk(F.narrow(x, 0, 0, 6), 4))).toEqual([2, 2, 2]);
    expect(shapes(F.split(x, [4, 0, 6]))).toEqual([4, 0, 6]);
  });
  it('squeeze, unsqueeze, expand and flatten shapes', () => {
    const y = tensor(new Float64Array(6), [1, 3, 1, 2], { backend: 'cpu64' });
    expect(y.squeeze().shape).toEqual([3, 2]);
    expect(y.squeeze(2).shape).toEqual([1, 3, 2]);
    expect(y.squeeze(1).shape).toEqual([1, 3, 1, 2]);
    expect(y.unsqueeze(4).shape).toEqual([1, 3, 1, 2, 1]);
    expect(y.expand([2, -1, 3, 4, -1]).shape).toEqual([2, 1, 3, 4, 2]);
    expect(F.flatten(y, 1).shape).toEqual([1, 6]);
    expect(F.flatten(tensor([5], [], { backend: 'cpu64' })).shape).toEqual([1]);
  });
  it('views, slices and joins of int32 tensors keep the dtype and the values', async () => {
    for (const backend of ['gpu', 'cpu64'] as const) {
      const idx = tensor([[1, -2, 3]], { dtype: 'int32', backend });
      const v = idx.squeeze(0).unsqueeze(1).flatten();
      expect([v.dtype, v.shape]).toEqual(['int32', [3]]);
      expect(Array.from(await v.toArray())).toEqual([1, -2, 3]);
      const m = F.stack([v, v.slice(0, null, null, 1).narrow(0, 0, 3)], 1); // [[1, 1], [-2, -2], [3, 3]]
      const j = F.cat([m.t(), m.transpose(0, 1).select(0, 1).unsqueeze(0), m.expand([1, 3, 2]).select(0, 0).t()]);
      expect([j.dtype, j.shape]).toEqual(['int32', [5, 3]]);
      expect(Array.from(await j.toArray())).toEqual([1, -2, 3, 1, -2, 3, 1, -2, 3, 1, -2, 3, 1, -2, 3]);
      expect(() => F.cat([v, tensor([1, 2, 3], { backend })])).toThrow(/cat: dtypes int32, float32 differ/);
    }
  });
  it('names the op, the shapes and the fix', () => {
    const y = tensor(new Float64Array(12), [3, 4], { backend: 'cpu64' });
    expect(() => F.transpose(y, 0, 2)).toThrow(/transpose: dim 2 is out of range for \[3, 4\]/);
    expect(() => F.transpose(tensor(new Float64Array(8), [2, 2, 2]))).toThrow(/pass transpose\(x, dim0, dim1\)/);
    expect(() => F.narrow(y, 1, 2, 3)).toThrow(/narrow: start 2 and length 3 do not fit dim 1 \(size 4\)/);
    expect(() => F.slice(y, 0, 0, 2, -1)).toThrow(/slice: step must be a positive integer/);
    expect(() => F.select(y, 0, 3)).toThrow(/select: index 3 is out of range for dim 0 \(size 3\)/);
    expect(() => F.expand(y, [3, 5])).toThrow(/expand: \[3, 4\] cannot expand to \[3, 5\]/);
    expect(() => F.unsqueeze(y, 3)).toThrow(/unsqueeze: dim 3 is out of range/);
    expect(() => F.cat([y, tensor(new Float64Array(6), [2, 3], { backend: 'cpu64' })], 0)).toThrow(
      /cat: shapes \[3, 4\], \[2, 3\] must match in every dim but 0/,
    );
    expect(() => F.stack([y, F.narrow(y, 0, 0, 2)])).toThrow(/stack: shapes \[3, 4\], \[2, 4\] must all be equal/);
    expect(() => F.split(y, [1, 1], 0)).toThrow(/split: sections \[1, 1\] must be sizes >= 0 summing to 3/);
    expect(() => F.chunk(y, 0)).toThrow(/chunk: chunks must be a positive integer/);
  });
});

// ---- PyTorch's values and gradients (test/fixtures/views-golden) ----

type Args = (number | string | number[] | null)[];
const OPS: Record<string, (xs: Tensor[], args: Args) => Tensor[]> = {
  transpose: ([x], [a, b]) => [x.transpose(a as number, b as number)],
  permute: ([x], [d]) => [x.permute(d as number[])],
  expand: ([x], [s]) => [x.expand(s as number[])],
  squeeze: ([x], [d]) => [x.squeeze(d as number | undefined)],
  unsqueeze: ([x], [d]) => [x.unsqueeze(d as number)],
  narrow: ([x], [d, s, n]) => [x.narrow(d as number, s as number, n as number)],
  slice: ([x], [d, s, e, st]) => [x.slice(d as number, s as number | null, e as number | null, st as number)],
  select: ([x], [d, i]) => [x.select(d as number, i as number)],
  flatten: ([x], [s, e]) => [x.flatten(s as number, e as number)],
  cat: (xs, [d]) => [F.cat(xs, d as number)],
  stack: (xs, [d]) => [F.stack(xs, d as number)],
  split: ([x], [s, d]) => x.split(s as number | number[], d as number),
  chunk: ([x], [c, d]) => x.chunk(c as number, d as number),
  gather: ([x, i], [d]) => [x.gather(d as number, i)],
  indexSelect: ([x, i], [d]) => [x.indexSelect(d as number, i)],
  where: ([c, a, b]) => [F.where(c, a, b)],
  maskedFill: ([x, m], [v]) => [x.maskedFill(m, Number(v))],
};

describe('views-golden (PyTorch 1.13, float64) through the autograd API', () => {
  const fx = loadFixture('views-golden');
  const get = (k: string) => {
    const t = fx.tensors.get(k);
    if (!t) throw new Error(`views-golden: key ${k} missing; remake with scripts/make-fixtures.py --only views-golden`);
    return { data: Array.from(t.data as ArrayLike<number>), shape: t.shape };
  };
  const cases = JSON.parse(fx.metadata.cases) as [string, string, string[], Args][];
  // Copies are exact; sums (expand's and repeated indices' gradients) are rounded to float32.
  const TOL: Record<BackendName, number> = { gpu: 1e-5, cpu64: 1e-6 };
  const expectValues = (got: ArrayLike<number>, key: string, backend: BackendName) => {
    const e = get(key);
    expect(got.length, key).toBe(e.data.length);
    for (let i = 0; i < e.data.length; i++) {
      const [g, x] = [got[i], e.data[i]];
      const ok = Number.isNaN(x) ? Number.isNaN(g) : g === x || Math.abs(g - x) <= TOL[backend] * (1 + Math.abs(x));
      if (!ok) expect.fail(`${backend} ${key}: element ${i} is ${got[i]}, PyTorch's ${e.data[i]}`);
    }
  };

  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`${backend}: every case (${cases.length}) forward and backward`, async () => {
      expect(cases.length).toBeGreaterThan(30);
      for (const [key, op, names, args] of cases) {
        const f = OPS[op];
        expect(f, `unknown op ${op} in the fixture`).toBeDefined();
        const inputs = names.map((n) => {
          const v = get(n);
          const dtype = n.startsWith('idx') ? 'int32' : 'float32';
          const requiresGrad = dtype === 'float32' && !n.startsWith('mask') && !n.startsWith('cond');
          return tensor(v.data, v.shape, { backend, dtype, requiresGrad });
        });
        const ys = f(inputs, args);
        const loss = ys
          .map((y, i) => F.sum(F.mul(y, tensor(get(`${key}.dy${i}`).data, y.shape, { backend }))))
          .reduce((a, b) => F.add(a, b));
        loss.backward();
        for (let i = 0; i < ys.length; i++) {
          expect(ys[i].shape, `${key}.y${i} shape`).toEqual(get(`${key}.y${i}`).shape);
          expectValues(await ys[i].toArray(), `${key}.y${i}`, backend);
        }
        for (let i = 0; i < inputs.length; i++) {
          if (!inputs[i].requiresGrad) continue;
          const g = inputs[i].grad;
          expect(g, `${key}.d${i}: no gradient`).not.toBeNull();
          expectValues(await g!.toArray(), `${key}.d${i}`, backend);
        }
      }
    });

    it(`${backend}: comparisons with NaN, infinities and signed zeros`, async () => {
      const { ops, scalars } = JSON.parse(fx.metadata.comparisons) as { ops: string[]; scalars: string[] };
      const a = tensor(get('cmp.a').data, get('cmp.a').shape, { backend });
      const b = tensor(get('cmp.b').data, get('cmp.b').shape, { backend });
      for (const op of ops) {
        const f = F[op as 'eq'];
        expectValues(await f(a, b).toArray(), `cmp.${op}`, backend);
        for (let j = 0; j < scalars.length; j++) {
          expectValues(await f(a, Number(scalars[j])).toArray(), `cmp.${op}.s${j}`, backend);
        }
      }
    });
  }
});
