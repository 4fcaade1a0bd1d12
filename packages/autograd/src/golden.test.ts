// The per-op PyTorch fixtures (ops-golden-s0: the repository's test/fixtures, and
// ../shared/fixtures' where present) through the autograd API: forward values and gradients for
// a given upstream gradient, on the GPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, type SafeTensorsFile } from '@wgtorch/tensor';
import { compare, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import {
  adaptiveAvgPool2d,
  batchNorm2d,
  conv2d,
  crossEntropy,
  linear,
  tensor,
  zeros,
  ones,
  tidy,
  type Tensor,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

for (const source of ['repo', 'shared'] as const) {
  const fx = loadFixture('ops-golden-s0', source);
  if (fx) describeOps(source, fx); // ../shared is an extra check where it exists
}

function describeOps(source: string, fx: SafeTensorsFile): void {
  const get = (k: string) => {
    const t = fx.tensors.get(k);
    if (!t) throw new Error(`fixture key ${k} missing`);
    return t;
  };
  const leaf = (k: string) => tensor(get(k).data as Float32Array, get(k).shape, { requiresGrad: true });
  const value = (k: string) => tensor(get(k).data as Float32Array, get(k).shape);

  async function expectClose(t: Tensor | null, key: string, rtol: number): Promise<void> {
    expect(t, `${key}: no tensor`).not.toBeNull();
    const c = compare(
      await t!.toArray(),
      get(key).data as Float32Array,
      { atol: 1e-5, rtol, relativeToMax: true },
      key,
    );
    expect(c.ok, c.message).toBe(true);
  }

  describe(`ops-golden-s0 (${source}) through the autograd API`, () => {
    for (let i = 0; fx.tensors.has(`conv${i}.params`); i++) {
      it(`conv${i}`, async () => {
        const [, , , , , , stride, padding] = get(`conv${i}.params`).data as Int32Array;
        const x = leaf(`conv${i}.x`);
        const w = leaf(`conv${i}.w`);
        const dy = value(`conv${i}.dy`);
        const y = conv2d(x, w, null, { stride, padding });
        y.backward(dy);
        await expectClose(y, `conv${i}.y`, 1e-4);
        await expectClose(x.grad, `conv${i}.dx`, 1e-3);
        await expectClose(w.grad, `conv${i}.dw`, 1e-3);
        for (const t of [x, w, dy, y, x.grad!, w.grad!]) t.dispose();
      });
    }

    for (let i = 0; i < 2; i++) {
      it(`bn${i} (training, running stats updated)`, async () => {
        const x = leaf(`bn${i}.x`);
        const g = leaf(`bn${i}.gamma`);
        const b = leaf(`bn${i}.beta`);
        const C = g.shape[0];
        const rm = zeros([C]);
        const rv = ones([C]);
        const y = batchNorm2d(x, rm, rv, g, b, { training: true, momentum: 0.1, eps: 1e-5 });
        y.backward(value(`bn${i}.dy`));
        await expectClose(y, `bn${i}.y`, 1e-4);
        await expectClose(x.grad, `bn${i}.dx`, 1e-3);
        await expectClose(g.grad, `bn${i}.dgamma`, 1e-3);
        await expectClose(b.grad, `bn${i}.dbeta`, 1e-3);
        const mean = get(`bn${i}.batch_mean`).data as Float32Array;
        const varU = get(`bn${i}.batch_var_unbiased`).data as Float32Array;
        const c1 = compare(
          await rm.toArray(),
          mean.map((m) => 0.1 * m),
          { atol: 1e-5, rtol: 1e-4 },
          'running_mean',
        );
        const c2 = compare(
          await rv.toArray(),
          varU.map((v) => 0.9 + 0.1 * v),
          { atol: 1e-5, rtol: 1e-4 },
          'running_var',
        );
        expect(c1.ok, c1.message).toBe(true);
        expect(c2.ok, c2.message).toBe(true);
      });
    }

    it('avgpool (adaptiveAvgPool2d to 1x1)', async () => {
      const x = leaf('avgpool.x');
      const y = adaptiveAvgPool2d(x, 1);
      y.backward(value('avgpool.dy'));
      await expectClose(y, 'avgpool.y', 1e-4);
      await expectClose(x.grad, 'avgpool.dx', 1e-3);
    });

    it('linear', async () => {
      const x = leaf('linear.x');
      const w = leaf('linear.w');
      const b = leaf('linear.b');
      const y = linear(x, w, b);
      y.backward(value('linear.dy'));
      await expectClose(y, 'linear.y', 1e-4);
      await expectClose(x.grad, 'linear.dx', 1e-3);
      await expectClose(w.grad, 'linear.dw', 1e-3);
      await expectClose(b.grad, 'linear.db', 1e-3);
    });

    it('cross-entropy', async () => {
      const logits = leaf('xent.logits');
      const labels = get('xent.labels').data as Int32Array;
      const loss = tidy(() => crossEntropy(logits, labels));
      expect(loss.shape).toEqual([1]);
      loss.backward();
      await expectClose(loss, 'xent.loss', 1e-4);
      await expectClose(logits.grad, 'xent.dlogits', 1e-3);
    });
  });
}

afterAll(() => {});
