// conv2d with groups (depthwise, channel multipliers) and dilation: gradcheck at PyTorch's defaults
// (float64 on cpu64), the GPU's gradients against float64, PyTorch's values and gradients
// (test/fixtures/conv-golden) on both backends, and the argument errors.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import { assertClose, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import * as F from './index.js';
import { checkGpuGradients, gradcheck, tensor, type CheckInput, type Tensor } from './index.js';
import type { Conv2dFnOptions } from './functional/conv.js';

beforeAll(async () => {
  await getRuntime();
});

const rng = new Rng(1616);
const rand = (shape: number[], scale = 1): CheckInput => ({
  data: Float64Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => scale * rng.normal()),
  shape,
});

// [input, weight, bias?, options]: depthwise at stride 1 and 2, a channel multiplier, groups with several
// channels each and dilation, non-square kernel/stride/padding/dilation.
const CASES: [number[], number[], boolean, Conv2dFnOptions][] = [
  [[2, 3, 5, 5], [3, 1, 3, 3], true, { padding: 1, groups: 3 }],
  [[1, 2, 6, 5], [2, 1, 3, 3], false, { stride: 2, padding: 1, groups: 2 }],
  [[1, 2, 4, 5], [4, 1, 3, 3], true, { padding: 1, groups: 2 }],
  [[1, 4, 7, 6], [4, 2, 3, 2], true, { stride: [2, 1], padding: [2, 1], dilation: [2, 3], groups: 2 }],
  [[2, 2, 6, 6], [3, 2, 2, 3], false, { dilation: 2, padding: [1, 2] }],
];
const label = ([x, w, b, o]: (typeof CASES)[number]) => `x[${x}] w[${w}]${b ? ' + bias' : ''} ${JSON.stringify(o)}`;

function inputs([xs, ws, hasBias]: (typeof CASES)[number]): CheckInput[] {
  return [rand(xs), rand(ws, 0.5), ...(hasBias ? [rand([ws[0]])] : [])];
}

describe('conv2d with groups and dilation', () => {
  for (const c of CASES) {
    it(`gradcheck (eps 1e-6, atol 1e-5, rtol 1e-3, float64): ${label(c)}`, async () => {
      const r = await gradcheck((x, w, b) => F.conv2d(x, w, b, c[3]), inputs(c));
      expect(r.ok, r.message).toBe(true);
    });
    it(`GPU gradients against float64: ${label(c)}`, async () => {
      const r = await checkGpuGradients((x, w, b) => F.conv2d(x, w, b, c[3]), inputs(c));
      expect(r.ok, r.message).toBe(true);
    });
  }

  it('a depthwise-separable block (depthwise 3x3 stride 2, then 1x1) through the GPU', async () => {
    const r = await checkGpuGradients(
      (x, dw, pw) => F.conv2d(F.relu(F.conv2d(x, dw, null, { stride: 2, padding: 1, groups: 8 })), pw),
      [rand([2, 8, 9, 9]), rand([8, 1, 3, 3], 0.5), rand([16, 8, 1, 1], 0.5)],
    );
    expect(r.ok, r.message).toBe(true);
  });

  it('takes unbatched [C, H, W] input as PyTorch', async () => {
    const r = await gradcheck(
      (x, w, b) => F.conv2d(x, w, b, { padding: 1, groups: 2 }),
      [rand([4, 3, 4]), rand([2, 2, 3, 3], 0.5), rand([2])],
    );
    expect(r.ok, r.message).toBe(true);
    const x = tensor(new Float32Array(2 * 5 * 5).fill(1), [2, 5, 5]);
    const y = F.conv2d(x, tensor(new Float32Array(4 * 9).fill(1), [4, 1, 3, 3]), null, { groups: 2 });
    expect(y.shape).toEqual([4, 3, 3]);
    expect(Array.from(await y.toArray())).toEqual(new Array(36).fill(9));
  });

  it('refuses channels that groups do not divide and weights of the wrong shape, naming the shapes', () => {
    const x = tensor(new Float32Array(2 * 6 * 4 * 4), [2, 6, 4, 4]);
    const w = (s: number[]) => tensor(new Float32Array(s.reduce((a, d) => a * d, 1)), s);
    expect(() => F.conv2d(x, w([6, 2, 3, 3]), null, { groups: 4 })).toThrow(
      /conv2d: groups 4 must divide the input channels 6 and the output channels 6 \(input \[2, 6, 4, 4\]/,
    );
    expect(() => F.conv2d(x, w([5, 2, 3, 3]), null, { groups: 3 })).toThrow(/output channels 5/);
    expect(() => F.conv2d(x, w([6, 3, 3, 3]), null, { groups: 3 })).toThrow(
      /with groups 3 the weight's second dimension must be C \/ groups = 2, got 3/,
    );
    expect(() => F.conv2d(x, w([6, 6, 3, 3]), w([5]))).toThrow(/bias \[5\] must be \[6\]/);
    expect(() => F.conv2d(x, w([6, 1, 3, 3]), null, { groups: 0 })).toThrow(/groups must be a positive integer/);
    expect(() => F.conv2d(x, w([6, 6, 3, 3]), null, { dilation: 2 })).toThrow(/dilated to 5x5/);
  });
});

describe('conv-golden (PyTorch 1.13, float64) through the autograd API', () => {
  const fx = loadFixture('conv-golden');
  const cases = JSON.parse(fx.metadata.conv) as Record<string, Record<string, number | number[]>>;
  const TOL = { gpu: { atol: 1e-5, rtol: 1e-4, relativeToMax: true }, cpu64: { atol: 1e-6, rtol: 1e-6 } };
  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`${backend}: every case (${Object.keys(cases).length}) forward and gradients`, async () => {
      expect(Object.keys(cases).length).toBeGreaterThanOrEqual(5);
      for (const [name, kw] of Object.entries(cases)) {
        const get = (k: string) => fx.tensors.get(`${name}.${k}`);
        const leaf = (k: string) =>
          tensor(get(k)!.data as Float32Array, get(k)!.shape, { backend, requiresGrad: true });
        const [x, w] = [leaf('x'), leaf('w')];
        const b = get('b') ? leaf('b') : null;
        const y = F.conv2d(x, w, b, {
          stride: kw.stride as Conv2dFnOptions['stride'],
          padding: kw.padding as Conv2dFnOptions['padding'],
          dilation: kw.dilation as Conv2dFnOptions['dilation'],
          groups: kw.groups as number | undefined,
        });
        y.backward(tensor(get('dy')!.data as Float32Array, get('dy')!.shape, { backend }));
        const expectKey = async (t: Tensor | null, key: string) =>
          assertClose(await t!.toArray(), get(key)!.data as Float32Array, TOL[backend], `${backend} ${name}.${key}`);
        expect(y.shape).toEqual(get('y')!.shape);
        await expectKey(y, 'y');
        await expectKey(x.grad, 'dx');
        await expectKey(w.grad, 'dw');
        if (b) await expectKey(b.grad, 'db');
      }
    });
  }
});
