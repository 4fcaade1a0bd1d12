// maxPool2d: gradcheck at PyTorch's defaults (float64 on cpu64), the GPU's gradients against float64,
// returnIndices on both backends, PyTorch's values, indices and gradients with NaN, ties and infinities
// (test/fixtures/conv-golden), and the argument errors.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng, runtime } from '@wgtorch/tensor';
import { assertClose, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { checkGpuGradients, gradcheck, tensor, tidy, type CheckInput, type Tensor } from './index.js';
import type { MaxPool2dOptions } from './functional/pool.js';

beforeAll(async () => {
  await getRuntime();
});

/** Distinct values (a permutation of a spread-out grid), so no window has a near-tie for the finite differences. */
function distinct(shape: number[], seed: number): CheckInput {
  const n = shape.reduce((a, d) => a * d, 1);
  const rng = new Rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return { data: v, shape };
}

const CASES: [number[], MaxPool2dOptions][] = [
  [[2, 3, 6, 6], { kernel: 2 }],
  [[1, 2, 7, 9], { kernel: 3, stride: 2, padding: 1 }],
  [[2, 2, 5, 5], { kernel: 2, stride: 1 }],
  [[1, 2, 8, 7], { kernel: [2, 3], stride: [2, 1], padding: [1, 1], dilation: [2, 2], ceilMode: true }],
];

describe('maxPool2d', () => {
  CASES.forEach(([shape, o], i) => {
    it(`gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64): [${shape}] ${JSON.stringify(o)}`, async () => {
      const r = await gradcheck((x) => F.maxPool2d(x, o), [distinct(shape, i)]);
      expect(r.ok, r.message).toBe(true);
    });
    it(`GPU gradients against float64: [${shape}] ${JSON.stringify(o)}`, async () => {
      const r = await checkGpuGradients((x) => F.maxPool2d(x, o), [distinct(shape, 10 + i)]);
      expect(r.ok, r.message).toBe(true);
    });
  });

  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`${backend}: returnIndices gives int32 indices into H*W beside differentiable values`, async () => {
      const x = tensor([1, 5, 2, 0, 3, 4, 9, 8, 7, 6, -1, -2, 0, 0, 0, 0], [1, 1, 4, 4], {
        backend,
        requiresGrad: true,
      });
      const { values, indices } = F.maxPool2d(x, { kernel: 2, returnIndices: true });
      expect(indices.dtype).toBe('int32');
      expect(indices.requiresGrad).toBe(false);
      expect(Array.from(await indices.toArray())).toEqual([1, 6, 8, 14]); // [-1 -2; 0 0]: the first 0
      expect(Array.from(await values.toArray())).toEqual([5, 9, 7, 0]);
      values.backward(tensor([1, 2, 3, 4], [1, 1, 2, 2], { backend }));
      expect(Array.from(await x.grad!.toArray())).toEqual([0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0]);
    });
  }

  it('takes unbatched [C, H, W] input as PyTorch, values and indices without the batch dimension', async () => {
    const r = await gradcheck((x) => F.maxPool2d(x, { kernel: 2, stride: 1 }), [distinct([2, 3, 4], 7)]);
    expect(r.ok, r.message).toBe(true);
    const x = tensor([1, 5, 2, 0, 3, 4, 9, 8, 7], [1, 3, 3]);
    const { values, indices } = F.maxPool2d(x, { kernel: 2, stride: 1, returnIndices: true });
    expect(values.shape).toEqual([1, 2, 2]);
    expect(indices.shape).toEqual([1, 2, 2]);
    expect(Array.from(await indices.toArray())).toEqual([1, 1, 6, 7]);
  });

  it('leaves no device buffer behind: values, indices and what backward saved are all released', async () => {
    const live = () => runtime().pool.getStats().liveBuffers;
    const run = () =>
      tidy(() => {
        const x = tensor(distinct([2, 3, 6, 6], 3).data, [2, 3, 6, 6], { requiresGrad: true });
        const { values, indices } = F.maxPool2d(x, { kernel: 2, returnIndices: true });
        F.add(F.sum(values), F.sum(F.maxPool2d(x, { kernel: 3, stride: 2 }))).backward();
        F.maxPool2d(x.detach(), { kernel: 2 });
        x.grad!.dispose(); // the leaf's gradient belongs to the leaf, not to tidy
        void indices;
      });
    run();
    const before = live();
    for (let i = 0; i < 3; i++) run();
    expect(live()).toBe(before);
  });

  it('refuses what PyTorch refuses, naming the op and the values', () => {
    const x = tensor(new Float32Array(16), [1, 1, 4, 4]);
    expect(() => F.maxPool2d(x, { kernel: 2, padding: 2 })).toThrow(/maxPool2d.*padding 2x2 must be at most half/);
    expect(() => F.maxPool2d(x, { kernel: 5 })).toThrow(/maxPool2d.*smaller than the kernel 5x5/);
    expect(() => F.maxPool2d(tensor(new Float32Array(16), [4, 4]), { kernel: 2 })).toThrow(
      /maxPool2d: input \[4, 4\] must be \[N, C, H, W\] or unbatched/,
    );
  });
});

describe('conv-golden max pooling (PyTorch 1.13): NaN, ties and infinities', () => {
  const fx = loadFixture('conv-golden');
  const cases = JSON.parse(fx.metadata.pool) as Record<string, Record<string, number | number[] | boolean>>;
  const pairOf = (v: number | number[] | boolean | undefined) => v as number | [number, number] | undefined;
  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`${backend}: every case (${Object.keys(cases).length}) values, indices and the gradient`, async () => {
      expect(Object.keys(cases).length).toBeGreaterThanOrEqual(3);
      for (const [name, kw] of Object.entries(cases)) {
        const get = (k: string) => fx.tensors.get(`${name}.${k}`)!;
        const x = tensor(get('x').data as Float32Array, get('x').shape, { backend, requiresGrad: true });
        const { values, indices } = F.maxPool2d(x, {
          kernel: pairOf(kw.kernel_size)!,
          stride: pairOf(kw.stride),
          padding: pairOf(kw.padding),
          dilation: pairOf(kw.dilation),
          ceilMode: kw.ceil_mode as boolean | undefined,
          returnIndices: true,
        });
        const want = get('y').data as Float32Array;
        const got = await values.toArray();
        expect(got.length).toBe(want.length);
        expect(Array.from(want).some(Number.isNaN), `${name}: the fixture should hold a NaN window`).toBe(true);
        for (let i = 0; i < want.length; i++)
          expect(Number.isNaN(want[i]) ? Number.isNaN(got[i]) : got[i] === want[i], `${name} y[${i}]`).toBe(true);
        expect(Array.from(await indices.toArray()), `${name} indices`).toEqual(
          Array.from(get('indices').data as Int32Array),
        );
        values.backward(tensor(get('dy').data as Float32Array, get('dy').shape, { backend }));
        assertClose(await (x.grad as Tensor).toArray(), get('dx').data as Float32Array, {}, `${backend} ${name}.dx`);
      }
    });
  }
});
