// gradcheck (float64 central differences on the cpu64 backend) for every differentiable op on
// small shapes, including the awkward conv and pooling geometries of the kernel tests; and the
// GPU's gradients against the float64 ones for the ops ResNet20 uses.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Rng } from '@wgtorch/tensor';
import * as F from './index.js';
import { gradcheck, checkGpuGradients, type CheckFn, type CheckInput } from './index.js';

const rng = new Rng(7);
const rand = (
  shape: number[],
  opts: { positive?: boolean; requiresGrad?: boolean; scale?: number } = {},
): CheckInput => {
  const n = shape.reduce((a, d) => a * d, 1);
  const data = Float64Array.from({ length: n }, () => {
    const v = rng.normal() * (opts.scale ?? 1);
    // Keep values away from kinks (relu at 0) and from the domain edge of log/sqrt.
    return opts.positive ? 0.5 + Math.abs(v) : Math.sign(v) * (0.05 + Math.abs(v));
  });
  return { data, shape, requiresGrad: opts.requiresGrad };
};

async function check(fn: CheckFn, inputs: CheckInput[], opts = {}): Promise<void> {
  const r = await gradcheck(fn, inputs, opts);
  expect(r.ok, r.message).toBe(true);
}

beforeAll(async () => {
  await getRuntime();
});

describe('gradcheck: elementwise and shape ops', () => {
  it('add/sub/mul/div with broadcasting', async () => {
    await check((a, b) => F.add(a, b), [rand([2, 3]), rand([3])]);
    await check((a, b) => F.sub(a, b), [rand([2, 1]), rand([1, 3])]);
    await check((a, b) => F.mul(a, b), [rand([2, 3, 4]), rand([3, 1])]);
    await check((a, b) => F.div(a, b), [rand([4, 3]), rand([4, 1], { positive: true })]);
  });
  it('scalar operands', async () => {
    await check((a) => F.div(F.mul(F.sub(F.add(a, 2), 0.5), 3), 4), [rand([5])]);
  });
  it('unary functions', async () => {
    for (const f of [F.exp, F.neg, F.square, F.tanh, F.sigmoid]) await check((a) => f(a), [rand([2, 3])]);
    for (const f of [F.log, F.sqrt]) await check((a) => f(a), [rand([2, 3], { positive: true })]);
    await check((a) => F.relu(a), [rand([3, 4])]);
    await check((a, b) => F.addRelu(a, b), [rand([3, 4]), rand([3, 4])]);
    await check((a, b) => F.addRelu(a, b), [rand([3, 4]), rand([4])]);
  });
  it('reshape, flatten, transpose, permute', async () => {
    await check((a) => F.mul(F.reshape(a, [3, -1]), F.reshape(a, [3, 4])), [rand([2, 6])]);
    await check((a) => F.flatten(a, 1), [rand([2, 3, 2, 2])]);
    await check((a) => F.transpose(a), [rand([3, 5])]);
    await check((a) => F.permute(a, [2, 0, 1]), [rand([2, 3, 4])]);
  });
  it('sum and mean over dims', async () => {
    await check((a) => F.sum(a), [rand([2, 3, 4])]);
    await check((a) => F.sum(a, [0, 2], true), [rand([2, 3, 4])]);
    await check((a) => F.mean(a, 1), [rand([2, 3, 4])]);
    await check((a) => F.mean(a, -1, true), [rand([3, 5])]);
  });
});

describe('gradcheck: linear algebra', () => {
  it('matmul 2-D with transposes, and batched 3-D', async () => {
    await check((a, b) => F.matmul(a, b), [rand([3, 4]), rand([4, 5])]);
    await check((a, b) => F.matmul(a, b, { transA: true }), [rand([4, 3]), rand([4, 5])]);
    await check((a, b) => F.matmul(a, b, { transB: true }), [rand([3, 4]), rand([5, 4])]);
    await check((a, b) => F.matmul(a, b, { transA: true, transB: true }), [rand([4, 3]), rand([5, 4])]);
    await check((a, b) => F.matmul(a, b), [rand([2, 3, 4]), rand([2, 4, 2])]);
  });
  it('linear with and without bias', async () => {
    await check((x, w, b) => F.linear(x, w, b), [rand([3, 5]), rand([4, 5]), rand([4])]);
    await check((x, w) => F.linear(x, w), [rand([2, 3]), rand([1, 3])]);
  });
});

describe('gradcheck: convolution and pooling', () => {
  // [N, C, H, W], [O, C, k, k], stride, padding: the kernel tests' awkward geometries.
  const convCases: [number[], number[], number, number][] = [
    [[2, 3, 5, 7], [4, 3, 3, 3], 1, 1],
    [[1, 2, 7, 9], [3, 2, 3, 3], 2, 1], // stride 2 on odd sizes
    [[2, 3, 6, 5], [2, 3, 1, 1], 2, 0], // 1x1 projection shortcut
    [[1, 2, 6, 5], [2, 2, 5, 5], 1, 2], // 5x5 kernel
    [[1, 2, 5, 5], [2, 2, 3, 3], 3, 0], // stride 3, no padding
    [[1, 1, 4, 4], [1, 1, 3, 3], 1, 2], // padding larger than needed
  ];
  for (const [xs, ws, stride, padding] of convCases) {
    it(`conv2d x[${xs}] w[${ws}] stride ${stride} pad ${padding}`, async () => {
      await check((x, w) => F.conv2d(x, w, null, { stride, padding }), [rand(xs), rand(ws)]);
    });
  }
  it('conv2d with bias', async () => {
    await check((x, w, b) => F.conv2d(x, w, b, { padding: 1 }), [rand([1, 2, 4, 3]), rand([3, 2, 3, 3]), rand([3])]);
  });
  it('avgPool2d and adaptiveAvgPool2d', async () => {
    await check((x) => F.avgPool2d(x, { kernel: 2 }), [rand([2, 2, 4, 6])]);
    await check((x) => F.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }), [rand([1, 2, 5, 7])]);
    await check((x) => F.adaptiveAvgPool2d(x, 1), [rand([2, 3, 3, 5])]);
    await check((x) => F.adaptiveAvgPool2d(x, 2), [rand([1, 2, 4, 4])]);
  });
});

describe('gradcheck: normalization and losses', () => {
  it('batchNorm2d in training mode', async () => {
    const fn: CheckFn = (x, g, b, rm, rv) => F.batchNorm2d(x, rm, rv, g, b, { training: true });
    const C = 3;
    await check(fn, [
      rand([4, C, 3, 2]),
      rand([C]),
      rand([C]),
      { ...rand([C]), requiresGrad: false },
      { ...rand([C], { positive: true }), requiresGrad: false },
    ]);
    // odd sizes, one image
    await check(fn, [
      rand([1, 2, 3, 5]),
      rand([2]),
      rand([2]),
      { ...rand([2]), requiresGrad: false },
      { ...rand([2], { positive: true }), requiresGrad: false },
    ]);
  });
  it('batchNormRelu2d (fused) in training and eval mode', async () => {
    for (const training of [true, false]) {
      const fn: CheckFn = (x, g, b, rm, rv) => F.batchNormRelu2d(x, rm, rv, g, b, { training });
      await check(fn, [
        rand([3, 2, 3, 3]),
        rand([2]),
        rand([2]),
        { ...rand([2]), requiresGrad: false },
        { ...rand([2], { positive: true }), requiresGrad: false },
      ]);
    }
  });
  it('batchNorm2d in eval mode (running statistics)', async () => {
    const fn: CheckFn = (x, g, b, rm, rv) => F.batchNorm2d(x, rm, rv, g, b, { training: false });
    await check(fn, [
      rand([2, 3, 2, 2]),
      rand([3]),
      rand([3]),
      { ...rand([3]), requiresGrad: false },
      { ...rand([3], { positive: true }), requiresGrad: false },
    ]);
  });
  it('softmax and logSoftmax', async () => {
    await check((x) => F.softmax(x), [rand([3, 5])]);
    await check((x) => F.logSoftmax(x), [rand([3, 5])]);
  });
  it('crossEntropy, with and without label smoothing', async () => {
    const labels = Int32Array.of(0, 3, 2, 3);
    await check((x) => F.crossEntropy(x, labels), [rand([4, 5])]);
    await check((x) => F.crossEntropy(x, labels, { labelSmoothing: 0.1 }), [rand([4, 5])]);
  });
  it('a small network end to end (conv, bn, relu, residual add, pool, flatten, linear, cross-entropy)', async () => {
    const labels = Int32Array.of(1, 0);
    const fn: CheckFn = (x, w1, g, b, rm, rv, w2, lb) => {
      const h = F.relu(F.batchNorm2d(F.conv2d(x, w1, null, { padding: 1 }), rm, rv, g, b, { training: true }));
      const r = F.relu(F.add(h, x));
      return F.crossEntropy(F.linear(F.flatten(F.adaptiveAvgPool2d(r, 1), 1), w2, lb), labels);
    };
    await check(fn, [
      rand([2, 2, 3, 3]),
      rand([2, 2, 3, 3]),
      rand([2]),
      rand([2]),
      { ...rand([2]), requiresGrad: false },
      { ...rand([2], { positive: true }), requiresGrad: false },
      rand([3, 2]),
      rand([3]),
    ]);
  });
});

describe('GPU gradients against float64', () => {
  const gpuCheck = async (fn: CheckFn, inputs: CheckInput[]) => {
    const r = await checkGpuGradients(fn, inputs);
    expect(r.ok, r.message).toBe(true);
  };
  it('conv2d (stride 2, odd sizes) and with bias', async () => {
    await gpuCheck((x, w) => F.conv2d(x, w, null, { stride: 2, padding: 1 }), [rand([2, 3, 7, 9]), rand([4, 3, 3, 3])]);
    await gpuCheck((x, w, b) => F.conv2d(x, w, b, { padding: 1 }), [rand([1, 2, 4, 3]), rand([3, 2, 3, 3]), rand([3])]);
  });
  it('batchNorm2d, relu, add, pooling, linear, cross-entropy', async () => {
    const labels = Int32Array.of(1, 0, 2);
    const fn: CheckFn = (x, g, b, rm, rv, w, lb) => {
      const h = F.addRelu(
        F.batchNormRelu2d(x, rm, rv, g, b, { training: true }),
        F.relu(F.add(F.batchNorm2d(x, rm, rv, g, b, { training: true }), x)),
      );
      return F.crossEntropy(F.linear(F.flatten(F.adaptiveAvgPool2d(h, 1), 1), w, lb), labels, { labelSmoothing: 0.1 });
    };
    await gpuCheck(fn, [
      rand([3, 4, 5, 5]),
      rand([4]),
      rand([4]),
      { ...rand([4]), requiresGrad: false },
      { ...rand([4], { positive: true }), requiresGrad: false },
      rand([3, 4]),
      rand([3]),
    ]);
  });
  it('elementwise, reductions and matmul', async () => {
    await gpuCheck(
      (a, b) => F.add(F.sum(F.mul(F.exp(F.div(a, b)), a), 1), F.sum(F.matmul(a, b, { transB: true }), 1)),
      [rand([3, 4]), rand([3, 4], { positive: true })],
    );
  });
});
