// The engine: gradients on both backends, accumulation, noGrad/detach, tidy, the error cases,
// and memory that stays flat over many training steps (the pool's counters).
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import * as F from './index.js';
import {
  tensor,
  tidy,
  keep,
  noGrad,
  Tensor,
  Conv2d,
  BatchNorm2d,
  ReLU,
  Sequential,
  Linear,
  AdaptiveAvgPool2d,
  Flatten,
  SGD,
  OneCycleLR,
  Module,
  manualSeed,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const arr = async (t: Tensor | null) => Array.from(await t!.toArray());

describe('backward', () => {
  for (const backend of ['cpu64', 'gpu'] as const) {
    it(`computes gradients with broadcasting and shared inputs (${backend})`, async () => {
      const a = tensor([1, 2, 3, -4, 5, 6], [2, 3], { requiresGrad: true, backend });
      const b = tensor([1, 2, 3], [3], { requiresGrad: true, backend });
      // loss = sum(relu((a + b) * b)) ; b used twice
      const loss = tidy(() => F.sum(F.relu(F.mul(F.add(a, b), b))));
      loss.backward();
      expect(await loss.item()).toBeCloseTo(2 + 8 + 18 + 0 + 14 + 27, 4);
      // d/da = b * [(a+b)b > 0]; d/db = sum_rows((a + 2b) * mask)
      const g = await arr(a.grad);
      [1, 2, 3, 0, 2, 3].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 5));
      const gb = await arr(b.grad);
      [3 + 0, 6 + 9, 9 + 12].forEach((v, i) => expect(gb[i]).toBeCloseTo(v, 5));
      for (const t of [a, b, loss, a.grad!, b.grad!]) t.dispose();
    });
  }

  it('accumulates into .grad over backward calls until zeroGrad', async () => {
    const w = tensor([1, 2], [2], { requiresGrad: true });
    for (let i = 0; i < 3; i++) tidy(() => F.sum(F.mul(w, 2)).backward());
    expect(await arr(w.grad)).toEqual([6, 6]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
    w.dispose();
  });

  it('takes an explicit gradient for non-scalar outputs', async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = F.mul(x, x);
    y.backward(tensor([1, 0, -1], [3]));
    expect(await arr(x.grad)).toEqual([2, 0, -6]);
  });

  it('noGrad and detach record nothing', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => F.mul(x, 3));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    const z = F.mul(d, 3);
    expect(z.requiresGrad).toBe(false);
    const w = F.mul(x, 3);
    expect(w.gradFn?.name).toBe('scale');
  });

  it('retainGraph allows a second backward', async () => {
    const x = tensor([3], [1], { requiresGrad: true });
    const y = F.mul(F.exp(x), 1);
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect((await arr(x.grad))[0]).toBeCloseTo(2 * Math.exp(3), 2);
  });
});

describe('errors', () => {
  it('backward twice through a freed graph', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const loss = F.sum(F.mul(x, x));
    loss.backward();
    expect(loss.gradFn?.freed).toBe(true);
    expect(() => loss.backward()).toThrow(/backward through the graph a second time.*retainGraph/s);
  });
  it('non-scalar backward without a gradient', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => F.mul(x, 2).backward()).toThrow(/only for a scalar output.*\[2\].*backward\(gradient\)/s);
  });
  it('backward of a tensor that does not require grad', () => {
    expect(() => tensor([1], [1]).backward()).toThrow(/does not require grad/);
  });
  it('a gradient of the wrong shape', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => F.mul(x, 2).backward(tensor([1, 2, 3], [3]))).toThrow(/gradient \[3\] must have the shape.*\[2\]/);
  });
  it('use after dispose, and tensors on different backends', () => {
    const x = tensor([1, 2], [2]);
    x.dispose();
    expect(() => F.add(x, 1)).toThrow(/after dispose/);
    const a = tensor([1], [1]);
    const b = tensor([1], [1], { backend: 'cpu64' });
    expect(() => F.add(a, b)).toThrow(/different backends/);
  });
  it('shape errors name the op and the shapes', () => {
    const x = tensor(new Float32Array(12), [2, 6]);
    expect(() => F.reshape(x, [5, -1])).toThrow(/reshape: cannot view \[2, 6\]/);
    expect(() => F.linear(x, tensor(new Float32Array(10), [2, 5]))).toThrow(
      /linear: input \[2, 6\] and weight \[2, 5\]/,
    );
    expect(() => F.crossEntropy(x, [1, 2, 3])).toThrow(/3 labels for logits \[2, 6\]/);
  });
});

describe('tidy', () => {
  it('disposes what fn creates except what it returns', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    let inner: Tensor | undefined;
    const { y } = tidy(() => {
      inner = F.mul(x, 2);
      return { y: F.add(inner, 1) };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(y.isDisposed).toBe(false);
    expect(x.isDisposed).toBe(false);
    // The graph survives its intermediates being disposed.
    F.sum(y).backward();
    expect(x.grad).not.toBeNull();
    const kept = tidy(() => keep(F.mul(x, 5)));
    expect(kept.isDisposed).toBe(false);
    expect(() => tidy(() => Promise.resolve(1))).toThrow(/synchronous/);
  });
});

class SmallNet extends Module {
  stem = new Sequential(new Conv2d(3, 8, 3, { padding: 1, bias: false }), new BatchNorm2d(8), new ReLU());
  conv = new Conv2d(8, 8, 3, { padding: 1, bias: false });
  bn = new BatchNorm2d(8);
  head = new Sequential(new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, 10));
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.stem.forward(x);
      return this.head.forward(F.relu(F.add(this.bn.forward(this.conv.forward(h)), h)));
    });
  }
}

describe('modules', () => {
  it('dispose what forward() creates and does not return; the graph keeps what backward needs', async () => {
    let inner: Tensor | undefined;
    class Twice extends Module {
      forward(x: Tensor): Tensor {
        inner = F.mul(x, 2);
        return F.mul(inner, inner);
      }
    }
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = new Twice().forward(x);
    expect(inner!.isDisposed).toBe(true);
    F.sum(y).backward();
    expect(await arr(x.grad)).toEqual([8, 16]);
  });
});

describe('memory', () => {
  it('stays flat over many training steps (no readback inside the loop)', async () => {
    manualSeed(1);
    const model = new SmallNet();
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
    const steps = 2000;
    const sched = new OneCycleLR(opt, { maxLr: 0.05, totalSteps: steps });
    const x = tensor(
      new Float32Array(4 * 3 * 8 * 8).map((_, i) => Math.sin(i)),
      [4, 3, 8, 8],
    );
    // Labels uploaded once: a per-step upload is the data pipeline's business, not the engine's.
    const labels = DeviceTensor.fromArray(Int32Array.of(1, 2, 3, 4), [4], 'i32');
    const pool = runtime().pool;
    let first: ReturnType<typeof pool.getStats> | undefined;
    let firstLoss = 0;
    for (let step = 0; step < steps; step++) {
      const loss = tidy(() => {
        const loss = F.crossEntropy(model.forward(x), labels);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        sched.step();
        return loss;
      });
      if (step === 0) firstLoss = await loss.item();
      loss.dispose();
      if (step === 50) first = pool.getStats();
    }
    const last = pool.getStats();
    expect(last.liveBytes).toBe(first!.liveBytes);
    expect(last.created).toBe(first!.created);
    // Memorizing 4 images: the loss falls.
    const finalLoss = await tidy(() => F.crossEntropy(model.forward(x), labels)).item();
    expect(finalLoss).toBeLessThan(firstLoss * 0.5);
    // An eval forward that keeps a graph nobody runs backward on frees it when disposed.
    const before = pool.getStats().liveBytes;
    model.eval();
    const y = tidy(() => model.forward(x));
    y.dispose();
    expect(pool.getStats().liveBytes).toBe(before);
    model.dispose();
    opt.dispose();
    x.dispose();
    labels.dispose();
  });
});
