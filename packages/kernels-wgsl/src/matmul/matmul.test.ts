import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import { matmul, matmulRef } from './index.js';
import { availableVariants, conv2dVariant } from '../conv2d/variants.js';
import { kernelProfile } from '../profile.js';
import { add, addRef } from '../elementwise/index.js';
import { sumToShape, sumToShapeRef } from '../reduce/index.js';
import { expectClose, fixture as fixtureOf, pair } from '../elementwise/test-util.js';
import { fixtureFiles } from '../common/testing.js';

// The variants to test depend on the adapter.
await getRuntime();

// matmul follows the convolutions' variant: each this adapter can run, on every case.
for (const variant of availableVariants()) {
  const chosen = variant === conv2dVariant() ? ', chosen for this adapter' : '';
  describe(`matmul (${variant} kernel${chosen}) vs float64`, () => {
    beforeAll(() => kernelProfile().setOptions({ conv2dVariant: variant }));
    afterAll(() => kernelProfile().setOptions({}));
    const sizes: [number, number, number][] = [
      [1, 1, 1],
      [3, 5, 7],
      [33, 17, 9],
      [128, 64, 10],
      [10, 128, 64],
      [65, 31, 70],
      [70, 40, 33],
    ];
    for (const [M, K, N] of sizes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          it(`${M}x${K}x${N} transA=${transA} transB=${transB}`, async () => {
            const a = pair(transA ? [K, M] : [M, K], M + K);
            const b = pair(transB ? [N, K] : [K, N], K + N);
            const opts = { transA, transB };
            await expectClose(matmul(a.t, b.t, opts), matmulRef(a.r, b.r, opts), { atol: 1e-4, rtol: 1e-4 }, 'c');
          });
        }
      }
    }
    it('batched [3, 9, 6] x [3, 6, 5] with transposes', async () => {
      for (const [transA, transB] of [
        [false, false],
        [true, true],
      ]) {
        const a = pair(transA ? [3, 6, 9] : [3, 9, 6], 1);
        const b = pair(transB ? [3, 5, 6] : [3, 6, 5], 2);
        const opts = { transA, transB };
        await expectClose(matmul(a.t, b.t, opts), matmulRef(a.r, b.r, opts), { atol: 1e-5, rtol: 1e-4 }, 'batched');
      }
    });
  });
}

for (const { source, path } of fixtureFiles('ops-golden-s0'))
  describe(`PyTorch fixture linear.* (${source})`, () => {
    it('y = x W^T + b, dx = dy W, dW = dy^T x, db = sum(dy)', async () => {
      const fixture = (k: string) => fixtureOf(k, path);
      const x = fixture('linear.x')!;
      const w = fixture('linear.w')!;
      const b = fixture('linear.b')!;
      const dy = fixture('linear.dy')!;
      const n = dy.t.shape[1];
      const tol = { atol: 1e-5, rtol: 1e-4 };
      const gtol = { atol: 1e-6, rtol: 1e-3, relativeToMax: true };
      await expectClose(add(matmul(x.t, w.t, { transB: true }), b.t), fixture('linear.y')!.r, tol, 'y');
      await expectClose(matmul(dy.t, w.t), fixture('linear.dx')!.r, gtol, 'dx');
      await expectClose(matmul(dy.t, x.t, { transA: true }), fixture('linear.dw')!.r, gtol, 'dw');
      await expectClose(sumToShape(dy.t, [n]), fixture('linear.db')!.r, gtol, 'db');
      // and the references agree with PyTorch too
      await expectClose(
        add(matmul(x.t, w.t, { transB: true }), b.t),
        addRef(matmulRef(x.r, w.r, { transB: true }), b.r),
        tol,
        'y ref',
      );
      await expectClose(sumToShape(dy.t, [n]), sumToShapeRef(dy.r, [n]), tol, 'db ref');
    });
  });

describe('bad arguments', () => {
  it('name the kernel, the shapes and the fix', () => {
    const a = Tensor.zeros([4, 5]);
    expect(() => matmul(a, Tensor.zeros([4, 6]))).toThrow(
      /matmul: a \[4, 5\] and b \[4, 6\]: inner dimensions 5 and 4 differ; check transA \/ transB/,
    );
    expect(() => matmul(a, Tensor.zeros([2, 5, 6]))).toThrow(/both must be 2-D/);
    expect(() => matmul(Tensor.zeros([2, 4, 5]), Tensor.zeros([3, 5, 6]))).toThrow(/batch sizes 2 and 3 differ/);
    expect(() => matmul(a, Tensor.zeros([5, 6], 'i32'))).toThrow(/matmul: b must be f32/);
  });
});
