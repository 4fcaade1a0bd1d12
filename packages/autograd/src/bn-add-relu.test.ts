// batchNormAddRelu2d = relu(batchNorm2d(x) + residual), ResNet's block end, as one fused op:
// gradcheck on cpu64, the GPU's gradients against float64, the same values, gradients and
// running statistics as the composition on both backends, and its dispatch count.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { kernelProfile } from '@wgtorch/kernels-wgsl';
import * as F from './index.js';
import { bnTestData, runBn } from './bn-testing.js';
import { BatchNorm2d, checkGpuGradients, gradcheck, tensor } from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const { rand, inputs } = bnTestData(11);

const fused =
  (training: boolean) =>
  (x: F.Tensor, res: F.Tensor, w: F.Tensor, b: F.Tensor, rm: F.Tensor, rv: F.Tensor): F.Tensor =>
    F.batchNormAddRelu2d(x, res, rm, rv, w, b, { training });

const composed =
  (training: boolean) =>
  (x: F.Tensor, res: F.Tensor, w: F.Tensor, b: F.Tensor, rm: F.Tensor, rv: F.Tensor): F.Tensor =>
    F.relu(F.add(F.batchNorm2d(x, rm, rv, w, b, { training }), res));

// Odd N, H, W and channels, and a vec4 shape (H * W a multiple of 4).
const SHAPES = [
  [3, 2, 3, 5],
  [1, 3, 5, 3],
  [2, 3, 4, 4],
];

describe('batchNormAddRelu2d: gradcheck (float64)', () => {
  for (const shape of SHAPES) {
    for (const training of [true, false]) {
      it(`[${shape}] ${training ? 'training' : 'eval'}`, async () => {
        const r = await gradcheck(fused(training), inputs(shape));
        expect(r.ok, r.message).toBe(true);
      });
    }
  }
});

describe('batchNormAddRelu2d: GPU gradients against float64', () => {
  for (const shape of [...SHAPES, [5, 16, 8, 8]]) {
    it(`[${shape}] training`, async () => {
      const r = await checkGpuGradients(fused(true), inputs(shape));
      expect(r.ok, r.message).toBe(true);
    });
  }
});

describe('batchNormAddRelu2d equals relu(batchNorm2d(x) + residual)', () => {
  for (const backend of ['cpu64', 'gpu'] as const) {
    for (const shape of SHAPES) {
      it(`[${shape}] on ${backend}: values, gradients of all four inputs, running statistics`, async () => {
        const data = inputs(shape);
        const v = rand(shape);
        const a = await runBn(fused(true), data, v, backend);
        const e = await runBn(composed(true), data, v, backend);
        const atol = backend === 'gpu' ? 2e-5 : 1e-12;
        for (const [name, want] of Object.entries(e)) {
          const got = a[name];
          const max = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          expect(got.length, name).toBe(want.length);
          for (let i = 0; i < want.length; i++)
            expect(Math.abs(got[i] - want[i]), `${name}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(
              atol * Math.max(1, max),
            );
        }
      });
    }
  }
});

describe('batchNormAddRelu2d dispatches (GPU)', () => {
  /** Dispatches of f's forward and of backward from a given upstream gradient. */
  function dispatches(f: ReturnType<typeof fused>, training: boolean): [number, number] {
    const data = inputs([2, 3, 4, 4]);
    const ts = data.map((d) => tensor(d.data, d.shape, { requiresGrad: d.requiresGrad ?? true }));
    const [x, res, w, b, rm, rv] = ts;
    const dy = F.onesLike(x);
    const count = runtime().dispatcher.counters;
    const before = count.dispatches;
    const y = f(x, res, w, b, rm, rv);
    const mid = count.dispatches;
    if (training) y.backward(dy);
    const after = count.dispatches;
    for (const t of [...ts, y, dy]) t.dispose();
    return [mid - before, after - mid];
  }

  it('training: one kernel forward and one backward, one fewer each way than batchNorm2d then addRelu', () => {
    const [fwd, bwd] = dispatches(fused(true), true);
    const separate: ReturnType<typeof fused> = (x, res, w, b, rm, rv) =>
      F.addRelu(F.batchNorm2d(x, rm, rv, w, b, { training: true }), res);
    const [cf, cb] = dispatches(separate, true);
    expect([cf - fwd, cb - bwd]).toEqual([1, 1]);
    // Unsplit reductions (CPU adapters): the statistics, the normalization and the epilogue in one kernel.
    if (!kernelProfile().batchNormSplit) expect([fwd, bwd]).toEqual([1, 1]);
  });

  it('eval under noGrad: one kernel, though the parameters require grad', () => {
    const [fwd] = F.noGrad(() => dispatches(fused(false), false));
    expect(fwd).toBe(1);
  });

  it('BatchNorm2d.forwardAddRelu: the fused op in training, its running statistics in eval', async () => {
    const bn = new BatchNorm2d(3);
    const x = F.randn([2, 3, 4, 4], { seed: 1 });
    const res = F.randn([2, 3, 4, 4], { seed: 2 });
    const before = runtime().dispatcher.counters.dispatches;
    const y = bn.forwardAddRelu(x, res);
    expect(runtime().dispatcher.counters.dispatches - before).toBe(kernelProfile().batchNormSplit ? 3 : 1);
    const want = F.relu(
      F.add(F.batchNorm2d(x, F.zeros([3]), F.ones([3]), bn.weight, bn.bias, { training: true }), res),
    );
    const [got, exp] = [await y.toArray(), await want.toArray()];
    for (let i = 0; i < exp.length; i++) expect(got[i]).toBeCloseTo(exp[i], 5);
    bn.eval();
    const ev = F.noGrad(() => bn.forwardAddRelu(x, res));
    const evWant = F.noGrad(() => F.relu(F.add(bn.forward(x), res)));
    const [g2, e2] = [await ev.toArray(), await evWant.toArray()];
    for (let i = 0; i < e2.length; i++) expect(g2[i]).toBeCloseTo(e2[i], 5);
    for (const t of [x, res, y, want, ev, evWant]) t.dispose();
    bn.dispose();
  });
});

describe('batchNormAddRelu2d arguments', () => {
  it('a residual that broadcasts composes the ops; a wrong one is refused by add', () => {
    const x = F.randn([2, 3, 4, 4], { seed: 3 });
    const rm = F.zeros([3]);
    const rv = F.ones([3]);
    const w = F.ones([3]);
    const y = F.batchNormAddRelu2d(x, F.ones([1, 3, 1, 1]), rm, rv, w, w, { training: true });
    expect(y.shape).toEqual([2, 3, 4, 4]);
    expect(() => F.batchNormAddRelu2d(x, F.ones([2, 3, 4, 5]), rm, rv, w, w)).toThrow(/4, 5/);
    expect(() => F.batchNormAddRelu2d(x, x, rm, rv, F.ones([4]), w)).toThrow(/batchNorm2d: weight \[4\] must be \[3\]/);
  });
});
