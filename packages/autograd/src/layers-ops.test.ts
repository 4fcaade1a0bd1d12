// layerNorm, dropout and embedding through the autograd API: gradcheck at PyTorch's defaults
// (float64 on cpu64), the GPU's gradients against float64, PyTorch's values and gradients
// (test/fixtures/layers-golden) on both backends, dropout's statistics and seeding, and the
// argument errors.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Rng } from '@wgtorch/tensor';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import {
  gradcheck,
  checkGpuGradients,
  tidy,
  manualSeed,
  tensor,
  type CheckFn,
  type CheckInput,
  type Tensor,
} from './index.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(17);
function rand(shape: number[], scale = 1.5, shift = 0, requiresGrad = true): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  return { data: Float64Array.from({ length: n }, () => shift + scale * rng.normal()), shape, requiresGrad };
}

async function check(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await gradcheck(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

async function checkGpu(fn: CheckFn, inputs: CheckInput[]): Promise<void> {
  const r = await checkGpuGradients(fn, inputs);
  expect(r.ok, r.message).toBe(true);
}

describe('gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64)', () => {
  it('layerNorm with weight and bias, one of them, and none; over one and two trailing dims', async () => {
    await check((x, w, b) => F.layerNorm(x, [5], w, b), [rand([3, 5]), rand([5], 1, 1), rand([5])]);
    await check((x, w) => F.layerNorm(x, [2, 3], w, null, 1e-3), [rand([2, 2, 3]), rand([2, 3], 1, 1)]);
    await check((x, b) => F.layerNorm(x, 4, null, b), [rand([3, 4]), rand([4])]);
    await check((x) => F.layerNorm(x, [7]), [rand([7], 2, 3)]);
  });
  it('dropout: the same mask for the same seed makes the finite differences meaningful', async () => {
    const fn: CheckFn = (x) => {
      manualSeed(5);
      return F.dropout(x, 0.4);
    };
    await check(fn, [rand([4, 6])]);
    await check((x) => F.dropout(x, 0.3, false), [rand([5])]);
  });
  it('embedding with repeated indices, with and without paddingIdx, from arrays and int32 tensors', async () => {
    const idx = [
      [0, 2, 2],
      [4, 0, 2],
    ];
    await check((w) => F.embedding(tensor(idx, { dtype: 'int32', backend: w.backend }), w), [rand([5, 3])]);
    // The padding row is looked up nowhere here: where it is, its gradient is 0 by definition
    // (PyTorch's too), not the finite difference; the golden checks that case.
    await check((w) => F.embedding([2, 2, 3, 0, 2], w, 1), [rand([4, 2])]);
    await check((w) => F.embedding(Int32Array.of(2, 0, 2), w, -1), [rand([4, 2])]);
    await check(
      (w) =>
        F.embedding(
          [
            [[1], [0]],
            [[1], [1]],
          ],
          w,
        ),
      [rand([2, 3])],
    ); // nested lists give [2, 2, 1]
  });
});

describe('GPU gradients against float64', () => {
  it('an embedding, layerNorm and dropout block (the transformer example shapes, small)', async () => {
    const idx = Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 11);
    const fn: CheckFn = (w, g, b) => {
      manualSeed(3);
      const h = F.layerNorm(F.embedding(idx, w), [16], g, b);
      return F.dropout(F.gelu(h), 0.2);
    };
    await checkGpu(fn, [rand([11, 16]), rand([16], 0.5, 1), rand([16])]);
  });
  it('layerNorm over rows of 1, 33 and 300 values', async () => {
    for (const D of [1, 33, 300]) {
      await checkGpu((x, w, b) => F.layerNorm(x, [D], w, b), [rand([9, D], 2, 1), rand([D], 1, 1), rand([D])]);
    }
  });
});

describe('dropout', () => {
  const ones = (n: number) => tensor(new Float32Array(n).fill(1), [n]);
  it('keeps about 1 - p of the elements, preserves the mean, and the backward uses the same mask', async () => {
    const n = 100_000;
    const x = ones(n);
    x.requiresGrad = true;
    const y = F.dropout(x, 0.25);
    y.backward(ones(n));
    const yv = Array.from(await y.toArray());
    const gv = await x.grad!.toArray();
    const kept = yv.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0) / n;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.01);
    expect(Math.abs(yv.reduce((a, v) => a + v, 0) / n - 1)).toBeLessThan(0.015);
    for (let i = 0; i < n; i++) if (yv[i] !== gv[i]) expect.fail(`element ${i}: y ${yv[i]}, grad ${gv[i]}`);
  });
  it('unseeded calls differ; the same calls repeat after manualSeed', async () => {
    const x = ones(512);
    manualSeed(7);
    const a = await F.dropout(x).toArray();
    const b = await F.dropout(x).toArray();
    manualSeed(7);
    const c = await F.dropout(x).toArray();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Array.from(c)).toEqual(Array.from(a));
  });
  it('gives nested lists their shape', () => {
    const w = tensor(new Float32Array(8), [4, 2]);
    expect(
      F.embedding(
        [
          [0, 1, 2],
          [3, 3, 3],
        ],
        w,
      ).shape,
    ).toEqual([2, 3, 2]);
    expect(F.embedding(Int32Array.of(1, 2), w).shape).toEqual([2, 2]);
  });
  it('is the identity in eval mode and for p = 0, zeros for p = 1, on both backends', async () => {
    for (const backend of ['gpu', 'cpu64'] as const) {
      const x = tensor([1, -2, 3], [3], { backend });
      expect(Array.from(await F.dropout(x, 0.5, false).toArray())).toEqual([1, -2, 3]);
      expect(Array.from(await F.dropout(x, 0).toArray())).toEqual([1, -2, 3]);
      expect(Array.from(await F.dropout(x, 1).toArray()).map(Math.abs)).toEqual([0, 0, 0]);
    }
  });
  it('draws the same mask on gpu and cpu64', async () => {
    const data = Float64Array.from({ length: 300 }, (_, i) => i + 1);
    manualSeed(11);
    const g = await F.dropout(tensor(data, [300]), 0.5).toArray();
    manualSeed(11);
    const c = await F.dropout(tensor(data, [300], { backend: 'cpu64' }), 0.5).toArray();
    for (let i = 0; i < 300; i++) expect(g[i] === 0, `element ${i}`).toBe(c[i] === 0);
  });
});

describe('memory', () => {
  const live = () => runtime().pool.getStats().liveBuffers;
  it('a training step through every layer op and loss leaves no buffer behind, nor does a refused call', async () => {
    const w = tensor(
      new Float32Array(7 * 8).map((_, i) => Math.sin(i)),
      [7, 8],
      { requiresGrad: true },
    );
    const g = tensor(new Float32Array(8).fill(1), [8], { requiresGrad: true });
    const step = () =>
      tidy(() => {
        const idx = tensor(
          [
            [1, 2, 2],
            [6, 0, 1],
          ],
          { dtype: 'int32' },
        );
        const h = F.dropout(F.layerNorm(F.embedding(idx, w, 0), [8], g, null), 0.3);
        const logits = F.reshape(h, [6, 8]);
        const loss = F.add(
          F.add(F.nllLoss(F.logSoftmax(logits), [0, 1, 2, 3, 4, -100]), F.crossEntropy(logits, [1, 1, 2, 3, 4, 5])),
          F.add(
            F.binaryCrossEntropyWithLogits(logits, F.sigmoid(logits.detach()), { posWeight: g }),
            F.mseLoss(logits, F.dropout(logits.detach(), 0.5, false), { reduction: 'sum' }),
          ),
        );
        loss.backward();
      });
    step(); // the first step creates pipelines and pooled buffers
    w.zeroGrad();
    g.zeroGrad();
    const before = live();
    for (let i = 0; i < 3; i++) {
      step();
      w.zeroGrad();
      g.zeroGrad();
    }
    expect(() => tidy(() => F.embedding([0, 9], w))).toThrow(/embedding: index 9/);
    expect(() => tidy(() => F.nllLoss(w, [[0], [1]]))).toThrow(/nllLoss: target \[2, 1\] does not fit/);
    expect(live()).toBe(before);
  });
});

describe('bad arguments', () => {
  it('name the function, the values and the fix', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => F.dropout(x, 1.5)).toThrow(/dropout: probability p must be in \[0, 1\], got 1.5/);
    expect(() => F.dropout(x, -0.1)).toThrow(/dropout: probability p must be in \[0, 1\]/);
    expect(() => F.layerNorm(x, [2])).toThrow(
      /layerNorm: normalizedShape \[2\] must be the trailing dims of x \[2, 3\]/,
    );
    expect(() => F.layerNorm(x, [3], tensor([1, 2], [2]))).toThrow(
      /layerNorm: weight \[2\] must have normalizedShape \[3\]/,
    );
    const w = tensor(new Float32Array(8), [4, 2]);
    expect(() => F.embedding([0, 4], w)).toThrow(
      /embedding: index 4 at position 1 is out of range for weight \[4, 2\]; indices must be integers in \[0, 3\]/,
    );
    expect(() => F.embedding([0, 1.5], w)).toThrow(/embedding: index 1.5 at position 1/);
    expect(() => F.embedding(tensor([0, 1], [2]), w)).toThrow(
      /embedding: indices must be an int32 tensor, got float32/,
    );
    expect(() => F.embedding([0], w, 4)).toThrow(/embedding: paddingIdx 4 must be an integer in \[-4, 4\)/);
    expect(() => F.embedding([[0, 1], [2]], w)).toThrow(/embedding: indices: tensor: /);
    expect(() =>
      F.embedding(
        [
          [0, 1],
          [2, 7],
        ],
        w,
      ),
    ).toThrow(/embedding: index 7 at position 3 is out of range/);
    const cpuIdx = tensor([0, 9], [2], { dtype: 'int32', backend: 'cpu64' });
    const cpuW = tensor(new Float64Array(8), [4, 2], { backend: 'cpu64' });
    expect(() => F.embedding(cpuIdx, cpuW)).toThrow(/embedding: index 9 at position 1 is out of range/);
  });
});

// ---- PyTorch's values (test/fixtures/layers-golden) ----

type Case = [string, string, string[], Record<string, string>, Record<string, unknown>];
const OPS: Record<string, (xs: Tensor[], ex: Record<string, Tensor>, a: Record<string, unknown>) => Tensor> = {
  layerNorm: ([x, w, b], _ex, a) =>
    F.layerNorm(x, a.normalizedShape as number[], w ?? null, b ?? null, (a.eps as number | undefined) ?? 1e-5),
  embedding: ([w], ex, a) => F.embedding(ex.indices, w, a.paddingIdx as number | undefined),
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
      expect([...t!.shape], key).toEqual(e.shape);
      const [atol, rtol] = TOL[backend];
      for (let i = 0; i < got.length; i++) {
        const want = Number(e.data[i]);
        if (!(Math.abs(got[i] - want) <= atol + rtol * Math.abs(want)))
          expect.fail(`${backend} ${key}: element ${i} is ${got[i]}, PyTorch's ${want}`);
      }
    };
    it(`${backend}: ${cases.length} layerNorm and embedding cases, forward and backward`, async () => {
      expect(cases.length).toBeGreaterThanOrEqual(6);
      for (const [key, op, leaves, extras, args] of cases) {
        const xs = leaves.map((k) => load(k, true));
        const ex = Object.fromEntries(Object.entries(extras).map(([name, k]) => [name, load(k)]));
        const y = OPS[op](xs, ex, args);
        y.backward(fx.tensors.has(`${key}.dy`) ? load(`${key}.dy`) : undefined);
        await expectClose(y, `${key}.y`);
        for (let i = 0; i < xs.length; i++) await expectClose(xs[i].grad, `${key}.d${i}`);
      }
    });
  }
});
