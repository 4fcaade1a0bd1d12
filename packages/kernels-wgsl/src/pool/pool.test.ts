import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as P from './index.js';
import { kernelProfile } from '../profile.js';
import { expectClose, fixture as fixtureOf, pair } from '../elementwise/test-util.js';
import { fixtureFiles } from '../common/testing.js';

beforeAll(async () => {
  await getRuntime();
});

describe('avgPool2d', () => {
  const cases: [number[], P.AvgPool2dOptions][] = [
    [[1, 1, 4, 4], { kernel: 2 }],
    [[2, 3, 7, 9], { kernel: 3, stride: 2, padding: 1 }],
    [[3, 5, 5, 5], { kernel: 2, stride: 1 }],
    [[1, 2, 6, 7], { kernel: [3, 2], stride: [2, 1], padding: [1, 0] }],
    [[4, 16, 32, 32], { kernel: 2 }],
    [[2, 3, 8, 8], { kernel: 5, stride: 3, padding: 2 }],
    // vec4 paths: non-overlapping windows over rows of whole vec4s (and a cropped remainder)
    [[2, 3, 8, 16], { kernel: 4 }],
    [[3, 2, 6, 12], { kernel: [3, 1] }],
    [[2, 2, 5, 20], { kernel: 2 }],
    [[1, 3, 4, 8], { kernel: [1, 2] }],
  ];
  // [4, 16, 32, 32] and [2, 3, 8, 16] tile exactly onto rows of whole output vec4s (the block
  // backward); run them through the per-vec4 backward as well.
  for (const [[shape, opts], noBlocks] of [
    ...cases.map((c) => [c, false] as const),
    [cases[4], true] as const,
    [cases[6], true] as const,
  ]) {
    it(`[${shape}] ${JSON.stringify(opts)}${noBlocks ? ', backward without blocks' : ''}`, async () => {
      kernelProfile().setOptions({ poolBlocks: !noBlocks });
      const x = pair(shape, 1);
      const y = P.avgPool2d(x.t, opts);
      const yr = P.avgPool2dRef(x.r, opts);
      await expectClose(y, yr, {}, 'y');
      const dy = pair(yr.shape, 2);
      await expectClose(P.avgPool2dBackward(dy.t, shape, opts), P.avgPool2dBackwardRef(dy.r, shape, opts), {}, 'dx');
      kernelProfile().setOptions({});
    });
  }
});

describe('globalAvgPool', () => {
  for (const shape of [
    [1, 1, 1, 1],
    [2, 3, 5, 5],
    [3, 5, 4, 4],
    [128, 64, 8, 8],
    [2, 3, 18, 18],
  ]) {
    it(`[${shape}]`, async () => {
      const x = pair(shape, 3);
      await expectClose(P.globalAvgPool(x.t), P.globalAvgPoolRef(x.r), {}, 'y');
      const dy = pair([shape[0], shape[1], 1, 1], 4);
      await expectClose(P.globalAvgPoolBackward(dy.t, shape), P.globalAvgPoolBackwardRef(dy.r, shape), {}, 'dx');
    });
  }
  for (const { source, path } of fixtureFiles('ops-golden-s0'))
    it(`matches the PyTorch fixture avgpool.* (${source})`, async () => {
      const fixture = (k: string) => fixtureOf(k, path);
      const x = fixture('avgpool.x')!;
      await expectClose(P.globalAvgPool(x.t), fixture('avgpool.y')!.r, { atol: 1e-6, rtol: 1e-4 }, 'y');
      const dx = P.globalAvgPoolBackward(fixture('avgpool.dy')!.t, x.t.shape);
      await expectClose(dx, fixture('avgpool.dx')!.r, { atol: 1e-6, rtol: 1e-4 }, 'dx');
      // the same through the k x k pool with the whole plane as its window
      await expectClose(
        P.avgPool2d(x.t, { kernel: 8 }),
        fixture('avgpool.y')!.r,
        { atol: 1e-6, rtol: 1e-4 },
        'avgPool2d 8x8',
      );
    });
});

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const x = Tensor.zeros([2, 3, 4, 4]);
    expect(() => P.avgPool2d(x, { kernel: 5 })).toThrow(
      /avgPool2d: input \[2, 3, 4, 4\] is smaller than the kernel 5x5/,
    );
    expect(() => P.avgPool2d(x, { kernel: 2, padding: 2 })).toThrow(
      /avgPool2d: padding 2x2 must be at most half the kernel/,
    );
    expect(() => P.avgPool2d(Tensor.zeros([3, 4, 4]), { kernel: 2 })).toThrow(
      /avgPool2d: input must be 4-D NCHW, got \[3, 4, 4\]/,
    );
    expect(() => P.avgPool2dBackward(Tensor.zeros([2, 3, 3, 3]), [2, 3, 4, 4], { kernel: 2 })).toThrow(
      /dy must be \[2, 3, 2, 2\]/,
    );
    expect(() => P.globalAvgPoolBackward(Tensor.zeros([2, 4, 1, 1]), [2, 3, 4, 4])).toThrow(
      /globalAvgPoolBackward: dy must be \[2, 3, 1, 1\]/,
    );
    expect(() => P.globalAvgPool(Tensor.zeros([2, 3, 4, 4], 'i32'))).toThrow(/globalAvgPool: x must be f32/);
  });
});
