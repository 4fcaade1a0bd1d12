// Creation and random factories with PyTorch's semantics on both backends: arange, linspace, eye,
// the *Like factories, randint, the global generator (unseeded draws differ, manualSeed repeats
// them), the dtype conversions x.float() and x.int(), and PyTorch's values from
// test/fixtures/creation-golden (made by scripts/fixture_ops/creation.py).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import {
  arange,
  checkGpuGradients,
  gradcheck,
  eye,
  fullLike,
  linspace,
  manualSeed,
  onesLike,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  tensor,
  zerosLike,
  type Tensor,
} from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const backends: BackendName[] = ['gpu', 'cpu64'];
const values = async (t: Tensor) => [...(await t.toArray())];

describe('arange', () => {
  for (const backend of backends) {
    it(`follows torch.arange's length and dtype rules (${backend})`, async () => {
      const a = arange(5, { backend });
      expect(a.dtype).toBe('int32');
      expect(await values(a)).toEqual([0, 1, 2, 3, 4]);
      expect(await values(arange(2, 6, { backend }))).toEqual([2, 3, 4, 5]);
      expect(await values(arange(10, 0, -3, { backend }))).toEqual([10, 7, 4, 1]);
      expect(arange(3, 3, { backend }).shape).toEqual([0]);
      const f = arange(1, 2, 0.25, { backend });
      expect(f.dtype).toBe('float32');
      expect(await values(f)).toEqual([1, 1.25, 1.5, 1.75]);
      // ceil((2.5 - 0) / 1) = 3 elements, float32 from the fractional end.
      const g = arange(2.5, { backend });
      expect(g.dtype).toBe('float32');
      expect(await values(g)).toEqual([0, 1, 2]);
      expect(arange(0, 1, 0.1, { backend }).shape).toEqual([10]);
      expect(arange(4, { backend, dtype: 'float32' }).dtype).toBe('float32');
      expect(arange(4, { backend, dtype: undefined }).dtype).toBe('int32');
    });
  }

  it('refuses a zero step and a step against the range', () => {
    expect(() => arange(0, 5, 0)).toThrow('arange: step must be nonzero');
    expect(() => arange(0, -1)).toThrow('runs against step 1');
    expect(() => arange(Infinity)).toThrow('end must be a finite number');
    expect(() => arange(0, 5, 1, 2 as never)).toThrow('takes (end), (start, end) or (start, end, step)');
  });
});

describe('linspace and eye', () => {
  for (const backend of backends) {
    it(`linspace includes both ends (${backend})`, async () => {
      const t = linspace(-1, 1, 5, { backend });
      expect(t.dtype).toBe('float32');
      expect(await values(t)).toEqual([-1, -0.5, 0, 0.5, 1]);
      expect(await values(linspace(3, 7, 1, { backend }))).toEqual([3]);
      expect(linspace(0, 1, 0, { backend }).shape).toEqual([0]);
      const v = await values(linspace(0.1, 0.7, 7, { backend }));
      expect(v[6]).toBe(backend === 'gpu' ? Math.fround(0.7) : 0.7);
    });

    it(`eye makes square and rectangular identities (${backend})`, async () => {
      expect(await values(eye(2, { backend }))).toEqual([1, 0, 0, 1]);
      const r = eye(2, 3, { backend });
      expect(r.shape).toEqual([2, 3]);
      expect(await values(r)).toEqual([1, 0, 0, 0, 1, 0]);
      expect(await values(eye(3, 1, { backend, dtype: 'int32' }))).toEqual([1, 0, 0]);
      expect(eye(0, { backend }).shape).toEqual([0, 0]);
    });
  }

  it('refuses bad counts', () => {
    expect(() => linspace(0, 1, -1)).toThrow('steps must be a non-negative integer, got -1');
    expect(() => linspace(0, 1, 2.5)).toThrow('steps must be a non-negative integer');
    expect(() => eye(2, -1)).toThrow('eye: m must be a non-negative integer, got -1');
  });
});

describe('the *Like factories', () => {
  for (const backend of backends) {
    it(`keep shape, backend and dtype (${backend})`, async () => {
      const x = tensor([[1, 2, 3]], { backend, requiresGrad: true });
      const i = tensor([4, 5], { backend, dtype: 'int32' });
      const z = zerosLike(x);
      expect([z.shape, z.backend, z.dtype, z.requiresGrad]).toEqual([[1, 3], backend, 'float32', false]);
      expect(await values(onesLike(i))).toEqual([1, 1]);
      expect(onesLike(i).dtype).toBe('int32');
      expect(await values(fullLike(x, 7))).toEqual([7, 7, 7]);
      expect(fullLike(i, 2, { dtype: 'float32' }).dtype).toBe('float32');
      expect(zerosLike(i, { backend: undefined, dtype: undefined })).toMatchObject({ backend, dtype: 'int32' });
      const r = randnLike(x, { seed: 3 });
      expect([r.shape, r.backend]).toEqual([[1, 3], backend]);
      const u = await values(randLike(x, { seed: 3 }));
      expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
      expect(() => randnLike(i)).toThrow("randn: draws floats; dtype 'int32' is not supported");
    });
  }
});

describe('random draws', () => {
  it('unseeded randn, rand and randint differ from call to call and repeat after manualSeed', async () => {
    manualSeed(7);
    const first = [await values(randn([6])), await values(rand([6])), await values(randint(0, 100, [6]))];
    const second = [await values(randn([6])), await values(rand([6])), await values(randint(0, 100, [6]))];
    for (let k = 0; k < 3; k++) expect(second[k]).not.toEqual(first[k]);
    manualSeed(7);
    const again = [await values(randn([6])), await values(rand([6])), await values(randint(0, 100, [6]))];
    expect(again).toEqual(first);
  });

  it('an explicit seed or rng does not touch the global generator', async () => {
    manualSeed(1);
    const expected = await values(randn([4]));
    manualSeed(1);
    const seeded = await values(randn([4], { seed: 99 }));
    expect(await values(randn([4], { seed: 99 }))).toEqual(seeded);
    await values(randint(5, [3], { rng: new Rng(2) }));
    expect(await values(randn([4]))).toEqual(expected);
  });

  for (const backend of backends) {
    it(`randint gives int32 values in [low, high) (${backend})`, async () => {
      const t = randint(-3, 4, [2000], { backend, seed: 5 });
      expect(t.dtype).toBe('int32');
      const v = await t.toArray();
      expect(v).toBeInstanceOf(Int32Array);
      const seen = new Set(v);
      expect([...seen].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
      const h = randint(3, [2, 5], { backend, seed: 1 });
      expect(h.shape).toEqual([2, 5]);
      expect((await values(h)).every((x) => x >= 0 && x < 3)).toBe(true);
      expect(randint(0, 2, [3], { backend, dtype: 'float32' }).dtype).toBe('float32');
    });
  }

  it('randint refuses an empty range and fractional bounds', () => {
    expect(() => randint(3, 3, [2])).toThrow('randint: high (3) must be greater than low (3)');
    expect(() => randint(0.5, 3, [2])).toThrow('randint: low must be an integer, got 0.5');
    expect(() => randint(3, 4 as never)).toThrow('pass the shape as an array');
  });
});

describe('x.float() and x.int()', () => {
  for (const backend of backends) {
    it(`convert as PyTorch (${backend})`, async () => {
      const x = tensor([1.7, -1.7, 2.5, -0.5, 0], { backend });
      const i = x.int();
      expect(i.dtype).toBe('int32');
      expect(await values(i)).toEqual([1, -1, 2, 0, 0]);
      const f = i.float();
      expect(f.dtype).toBe('float32');
      expect(await values(F.mul(f, 2))).toEqual([2, -2, 4, 0, 0]);
    });

    it(`float() passes gradcheck (${backend === 'gpu' ? 'gpu vs float64' : 'cpu64'})`, async () => {
      const x = { data: [0.5, -1.25, 2], shape: [3], requiresGrad: true };
      const fn = (t: Tensor) => F.mul(t.float(), t);
      const r = backend === 'gpu' ? await checkGpuGradients(fn, [x]) : await gradcheck(fn, [x]);
      expect(r.ok, r.message).toBe(true);
    });

    it(`float() of a float32 tensor stays in the graph (${backend})`, async () => {
      const x = tensor([1, 2], { backend, requiresGrad: true });
      F.sum(F.mul(x.float(), 3)).backward();
      expect(await values(x.grad!)).toEqual([3, 3]);
      const y = tensor([1, 2], { backend, requiresGrad: true });
      const yi = y.int();
      expect(yi.requiresGrad).toBe(false);
    });
  }
});

describe('PyTorch golden (test/fixtures/creation-golden)', () => {
  const fx = loadFixture('creation-golden');
  const cases = JSON.parse(fx.metadata.cases) as { key: string; fn: string; args: number[] }[];
  for (const backend of backends) {
    it(`matches torch on every case (${backend})`, async () => {
      for (const c of cases) {
        const want = fx.tensors.get(c.key)!;
        let t: Tensor;
        if (c.fn === 'arange') t = (arange as (...a: unknown[]) => Tensor)(...c.args, { backend });
        else if (c.fn === 'linspace') t = linspace(c.args[0], c.args[1], c.args[2], { backend });
        else t = eye(c.args[0], c.args[1], { backend });
        expect(t.shape, c.key).toEqual(want.shape);
        expect(t.dtype, c.key).toBe(want.dtype === 'I32' ? 'int32' : 'float32');
        const got = await t.toArray();
        const scale = Math.max(1, ...Array.from(want.data as ArrayLike<number>, (v) => Math.abs(v)));
        for (let k = 0; k < got.length; k++) {
          const w = Number(want.data[k]);
          // Within float32's rounding at the range's scale (torch's linspace adds in float32).
          const d = Math.abs(got[k] - w);
          expect(d, `${c.key}[${k}]: ${got[k]} vs torch ${w}`).toBeLessThanOrEqual(2 ** -23 * scale);
        }
      }
    });
  }
});
