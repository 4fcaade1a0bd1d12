// clipGradNorm against torch.nn.utils.clip_grad_norm_ (test/fixtures/optim-golden: norm types
// 2, 1 and inf, clipping and not, on gpu and cpu64); no readback and a fixed number of
// dispatches whatever the number of parameters; its errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { compare, loadFixture } from '@wgtorch/kernels-wgsl/testing';
import { resnet20ParamShapes } from '@wgtorch/kernels-wgsl';
import { Parameter } from './nn/module.js';
import { clipGradNorm } from './optim/clip.js';
import { ones, tensor, zeros } from './tensor.js';

beforeAll(async () => {
  await getRuntime();
});

const fx = loadFixture('optim-golden');
const get = (k: string) => fx.tensors.get(k)!;
const shapes: number[][] = JSON.parse(fx.metadata.shapes);
const cases: Record<string, { max_norm: number; norm_type: number | 'inf' }> = JSON.parse(fx.metadata.clip_cases);
const tol = { atol: 1e-6, rtol: 1e-5 };

describe('clipGradNorm matches PyTorch', () => {
  for (const backend of ['gpu', 'cpu64'] as const) {
    for (const [name, c] of Object.entries(cases)) {
      it(`${name} on ${backend}`, async () => {
        const ps = shapes.map((s) => new Parameter(zeros(s, { backend }).raw));
        ps.forEach((p, i) => (p.grad = tensor(get(`clip.grad.p${i}`).data as Float32Array, p.shape, { backend })));
        const readbacks = runtime().dispatcher.counters.readbacks;
        const norm = clipGradNorm(ps, c.max_norm, c.norm_type);
        expect(runtime().dispatcher.counters.readbacks).toBe(readbacks);
        const n = compare(await norm.toArray(), get(`clip.${name}.norm`).data as Float32Array, tol, 'norm');
        expect(n.ok, n.message).toBe(true);
        for (let i = 0; i < ps.length; i++) {
          const want = get(`clip.${name}.p${i}`).data as Float32Array;
          const g = compare(await ps[i].grad!.toArray(), want, tol, `grad ${i}`);
          expect(g.ok, g.message).toBe(true);
        }
      });
    }
  }
});

describe('clipGradNorm', () => {
  it("takes a few dispatches for ResNet20's 65 gradients, and skips parameters without one", async () => {
    const ps = resnet20ParamShapes().map((s) => new Parameter(zeros(s).raw));
    ps.forEach((p, i) => i !== 3 && (p.grad = ones(p.shape)));
    const before = runtime().dispatcher.counters.dispatches;
    const norm = clipGradNorm(ps, 1);
    expect(runtime().dispatcher.counters.dispatches - before).toBeLessThanOrEqual(10);
    const count = ps.reduce((a, p, i) => a + (i === 3 ? 0 : p.size), 0);
    expect(await norm.item()).toBeCloseTo(Math.sqrt(count), 1);
    expect(ps[3].grad).toBeNull();
    const g = await ps[0].grad!.toArray();
    expect(g[0]).toBeCloseTo(1 / (Math.sqrt(count) + 1e-6), 6);
  });

  it('returns 0 without gradients, and names bad arguments', async () => {
    const p = new Parameter(zeros([2]).raw);
    expect(await clipGradNorm([p], 1).item()).toBe(0);
    expect(() => clipGradNorm(p, 1, 0)).toThrow(/clipGradNorm: normType must be a number > 0 or 'inf', got 0/);
    expect(() => clipGradNorm(p, -1)).toThrow(/maxNorm must be a number >= 0, got -1/);
  });
});
