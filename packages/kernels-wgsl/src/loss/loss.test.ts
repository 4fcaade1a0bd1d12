import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import * as L from './index.js';
import { expectClose, fixture as fixtureOf, pair, f64Of } from '../elementwise/test-util.js';
import { fixtureFiles } from '../common/testing.js';

beforeAll(async () => {
  await getRuntime();
});

function labelsPair(N: number, C: number, seed: number) {
  const v = Int32Array.from({ length: N }, (_, i) => (i * 7 + seed) % C);
  return { t: Tensor.fromArray(v, [N]), r: f64Of(v, [N]) };
}

describe('softmaxCrossEntropy', () => {
  for (const [N, C] of [
    [1, 1],
    [1, 10],
    [5, 3],
    [128, 10],
    [300, 17],
  ]) {
    for (const s of [0, 0.1]) {
      it(`[${N}, ${C}] smoothing ${s}`, async () => {
        const x = pair([N, C], N + C, 3);
        const y = labelsPair(N, C, 3);
        const out = L.softmaxCrossEntropy(x.t, y.t, { labelSmoothing: s });
        const ref = L.softmaxCrossEntropyRef(x.r, y.r, { labelSmoothing: s });
        await expectClose(out.loss, ref.loss, { atol: 1e-5, rtol: 1e-5 }, 'loss');
        await expectClose(out.dlogits, ref.dlogits, { atol: 1e-6, rtol: 1e-4 }, 'dlogits');
      });
    }
  }
  for (const { source, path } of fixtureFiles('ops-golden-s0'))
    it(`matches the PyTorch fixture xent.* (${source})`, async () => {
      const fixture = (k: string) => fixtureOf(k, path);
      const logits = fixture('xent.logits')!;
      const labels = fixture('xent.labels')!;
      const out = L.softmaxCrossEntropy(logits.t, labels.t);
      await expectClose(out.loss, fixture('xent.loss')!.r, { atol: 1e-6, rtol: 1e-4 }, 'loss');
      await expectClose(
        out.dlogits,
        fixture('xent.dlogits')!.r,
        { atol: 1e-6, rtol: 1e-3, relativeToMax: true },
        'dlogits',
      );
    });
  it('gives NaN for a label out of range', async () => {
    const out = L.softmaxCrossEntropy(Tensor.zeros([2, 3]), Tensor.fromArray(Int32Array.of(0, 3), [2]));
    expect(Number.isNaN(await out.loss.item())).toBe(true);
  });
});

describe('softmax, logSoftmax and backward', () => {
  for (const shape of [
    [1, 1],
    [4, 10],
    [2, 3, 7],
    [130, 33],
  ]) {
    it(`[${shape}]`, async () => {
      const x = pair(shape, 1, 4);
      const dy = pair(shape, 2);
      const sm = L.softmax(x.t);
      const lsm = L.logSoftmax(x.t);
      await expectClose(sm, L.softmaxRef(x.r), { atol: 1e-6, rtol: 1e-4 }, 'softmax');
      await expectClose(lsm, L.logSoftmaxRef(x.r), { atol: 1e-5, rtol: 1e-5 }, 'logSoftmax');
      await expectClose(
        L.softmaxBackward(dy.t, sm),
        L.softmaxBackwardRef(dy.r, L.softmaxRef(x.r)),
        { atol: 1e-5, rtol: 1e-4 },
        'softmaxBackward',
      );
      await expectClose(
        L.logSoftmaxBackward(dy.t, lsm),
        L.logSoftmaxBackwardRef(dy.r, L.logSoftmaxRef(x.r)),
        { atol: 1e-5, rtol: 1e-4 },
        'logSoftmaxBackward',
      );
    });
  }
});

describe('argmax, accuracyCount, accumulate', () => {
  it('count correct predictions on the GPU', async () => {
    for (const [N, C] of [
      [1, 1],
      [7, 3],
      [128, 10],
      [1000, 10],
    ]) {
      const x = pair([N, C], N, 2);
      const y = labelsPair(N, C, 1);
      const am = L.argmax(x.t);
      expect(am.dtype).toBe('i32');
      await expectClose(am, L.argmaxRef(x.r), { atol: 0, rtol: 0 }, 'argmax');
      const acc = L.accuracyCount(x.t, y.t);
      L.accuracyCount(x.t, y.t, acc);
      const once = L.accuracyCountRef(x.r, y.r);
      await expectClose(acc, L.accuracyCountRef(x.r, y.r, once), { atol: 0, rtol: 0 }, 'accuracyCount');
    }
    const into = Tensor.fromArray([1.5], [1]);
    L.accumulate(into, Tensor.fromArray([2], [1]), 0.5);
    L.accumulate(into, Tensor.fromArray([1], [1]));
    expect(await into.item()).toBe(3.5);
  });
  it('rejects bad arguments naming the kernel and shapes', () => {
    const x = Tensor.zeros([4, 10]);
    expect(() => L.softmaxCrossEntropy(x, Tensor.zeros([4]))).toThrow(
      /softmaxCrossEntropy: labels must be i32, got f32 \[4\]/,
    );
    expect(() => L.softmaxCrossEntropy(x, Tensor.zeros([3], 'i32'))).toThrow(
      /labels must be \[4\] .*\[4, 10\].*got \[3\]/,
    );
    expect(() => L.softmaxCrossEntropy(Tensor.zeros([4, 10, 1]), Tensor.zeros([4], 'i32'))).toThrow(
      /logits must be 2-D/,
    );
    expect(() => L.accumulate(Tensor.zeros([2]), Tensor.zeros([1]))).toThrow(/accumulate: into must be a one-element/);
    expect(() => L.softmaxBackward(x, Tensor.zeros([4, 9]))).toThrow(/softmaxBackward: dy \[4, 10\] and y \[4, 9\]/);
  });
});
