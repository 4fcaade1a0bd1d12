// The training batchNormRelu2d and batchNormAddRelu2d ops sum two gradients of their output in
// their backward kernel (OpDef.sumsGrads, ctx.dy2): where the output feeds two ops, as a ResNet
// block's input feeds its conv1 and its shortcut, the gradients are those of the composition
// (whose relu takes the engine's add), gradcheck passes on cpu64 and the GPU's agree with float64,
// and a BasicBlock-like chain records no elementwise.add in its backward.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, type CompiledKernel, type KernelSource } from '@wgtorch/tensor';
import * as F from './index.js';
import { bnTestData, runBn, type BnOp } from './bn-testing.js';
import { checkGpuGradients, gradcheck, tensor, type BackendName, type CheckInput } from './index.js';
import { backendOf } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const { rand, inputs } = bnTestData(17);

const training = { training: true };

/** Each fused op, its composition from batchNorm2d, and the launcher whose dy2 its backward passes. */
const OPS = {
  batchNormRelu2d: {
    fused: ((x, _res, w, b, rm, rv) => F.batchNormRelu2d(x, rm, rv, w, b, training)) as BnOp,
    composed: ((x, _res, w, b, rm, rv) => F.relu(F.batchNorm2d(x, rm, rv, w, b, training))) as BnOp,
    kernel: 'batchNormReluBackward',
    dy2At: 7,
  },
  batchNormAddRelu2d: {
    fused: ((x, res, w, b, rm, rv) => F.batchNormAddRelu2d(x, res, rm, rv, w, b, training)) as BnOp,
    composed: ((x, res, w, b, rm, rv) => F.relu(F.add(F.batchNorm2d(x, rm, rv, w, b, training), res))) as BnOp,
    kernel: 'batchNormAddReluBackward',
    dy2At: 6,
  },
} as const;

/** The op's output feeds two ops (one nonlinear, so the two gradients differ). */
const twoConsumers =
  (op: BnOp): BnOp =>
  (...ts) => {
    const out = op(...ts);
    return F.add(F.mul(out, 3), F.tanh(out));
  };

// Odd N, H, W and channels, and a vec4 shape (H * W a multiple of 4).
const SHAPES = [
  [3, 2, 3, 5],
  [2, 3, 4, 4],
];

/** Counts the calls of backend.k[kernel] given a dy2 (argument dy2At) while spied. */
function spyDy2(backend: BackendName, kernel: 'batchNormReluBackward' | 'batchNormAddReluBackward', dy2At: number) {
  const spy = vi.spyOn(backendOf(backend).k, kernel);
  return () => spy.mock.calls.filter((args) => (args as unknown[])[dy2At] !== undefined).length;
}

for (const [name, op] of Object.entries(OPS)) {
  describe(`${name} feeding two ops`, () => {
    for (const shape of SHAPES) {
      it(`[${shape}] gradcheck (float64)`, async () => {
        const withDy2 = spyDy2('cpu64', op.kernel, op.dy2At);
        const r = await gradcheck(twoConsumers(op.fused), inputs(shape));
        expect(r.ok, r.message).toBe(true);
        expect(withDy2()).toBeGreaterThan(0);
      });
    }

    for (const shape of [...SHAPES, [5, 16, 8, 8]]) {
      it(`[${shape}] GPU gradients against float64`, async () => {
        const withDy2 = spyDy2('gpu', op.kernel, op.dy2At);
        const r = await checkGpuGradients(twoConsumers(op.fused), inputs(shape));
        expect(r.ok, r.message).toBe(true);
        expect(withDy2()).toBeGreaterThan(0);
      });
    }

    for (const backend of ['cpu64', 'gpu'] as const) {
      for (const shape of SHAPES) {
        it(`[${shape}] on ${backend}: the gradients of x, residual, weight, bias as the composition's`, async () => {
          const data = inputs(shape);
          const v = rand(shape);
          const withDy2 = spyDy2(backend, op.kernel, op.dy2At);
          const got = await runBn(twoConsumers(op.fused), data, v, backend);
          expect(withDy2()).toBe(1);
          const want = await runBn(twoConsumers(op.composed), data, v, backend);
          const atol = backend === 'gpu' ? 2e-5 : 1e-12;
          for (const [key, w] of Object.entries(want)) {
            const g = got[key];
            const max = w.reduce((m, e) => Math.max(m, Math.abs(e)), 0);
            expect(g.length, key).toBe(w.length);
            for (let i = 0; i < w.length; i++)
              expect(Math.abs(g[i] - w[i]), `${key}[${i}]: ${g[i]} vs ${w[i]}`).toBeLessThanOrEqual(
                atol * Math.max(1, max),
              );
          }
        });
      }
    }
  });
}

// ---- a BasicBlock-like chain: bnRelu, then blocks relu(bn2(conv2(relu(bn1(conv1(h))))) + h) ----

const CHAIN_BLOCKS = 2;
const BNS = 1 + 2 * CHAIN_BLOCKS;

/** x, the convs' weights, the batch norms' weights and biases, then their running stats (constants). */
function chainInputs(shape: number[]): CheckInput[] {
  const C = shape[1];
  const stat = { requiresGrad: false };
  return [
    rand(shape),
    ...Array.from({ length: 2 * CHAIN_BLOCKS }, () => rand([C, C, 3, 3])),
    ...Array.from({ length: 2 * BNS }, () => rand([C])),
    ...Array.from({ length: BNS }, () => [rand([C], stat), rand([C], { ...stat, positive: true })]).flat(),
  ];
}

function chain(x: F.Tensor, ...ps: F.Tensor[]): F.Tensor {
  const convs = ps.slice(0, 2 * CHAIN_BLOCKS);
  const affine = ps.slice(2 * CHAIN_BLOCKS, 2 * CHAIN_BLOCKS + 2 * BNS);
  const stats = ps.slice(2 * CHAIN_BLOCKS + 2 * BNS);
  const bn = (i: number) => [stats[2 * i], stats[2 * i + 1], affine[2 * i], affine[2 * i + 1]] as const;
  const conv = (i: number, h: F.Tensor) => F.conv2d(h, convs[i], null, { padding: 1 });
  let h = F.batchNormRelu2d(x, ...bn(0), training);
  for (let k = 0; k < CHAIN_BLOCKS; k++) {
    const t = F.batchNormRelu2d(conv(2 * k, h), ...bn(1 + 2 * k), training);
    h = F.batchNormAddRelu2d(conv(2 * k + 1, t), h, ...bn(2 + 2 * k), training);
  }
  return h;
}

const kernelName = (k: KernelSource | CompiledKernel) => ('pipeline' in k ? k.source.name : k.name);

describe('a BasicBlock-like residual chain', () => {
  const shape = [2, 3, 4, 4];

  it('gradcheck (float64) and the GPU gradients against float64', async () => {
    const r = await gradcheck(chain, chainInputs(shape));
    expect(r.ok, r.message).toBe(true);
    const g = await checkGpuGradients(chain, chainInputs([3, 8, 8, 8]));
    expect(g.ok, g.message).toBe(true);
  });

  it('records no elementwise.add in backward (GPU)', async () => {
    const ts = chainInputs([2, 8, 8, 8]).map((d) => tensor(d.data, d.shape, { requiresGrad: d.requiresGrad ?? true }));
    const y = chain(ts[0], ...ts.slice(1));
    const dy = F.onesLike(y);
    const spy = vi.spyOn(runtime().dispatcher, 'dispatch');
    y.backward(dy);
    const names = spy.mock.calls.map(([k]) => kernelName(k));
    spy.mockRestore();
    // Each block input feeds conv1 and the shortcut: without sumsGrads, one add per block.
    expect(names.filter((n) => n === 'elementwise.add')).toEqual([]);
    expect(names.some((n) => n.startsWith('batchnorm.backwardAddRelu'))).toBe(true);
    expect(ts.slice(1, 1 + 2 * CHAIN_BLOCKS).every((w) => w.grad !== null)).toBe(true);
    for (const t of [...ts, y, dy]) t.dispose();
  });
});
