// `runGolden` takes batch size and image size from the file: a fixture in the same format,
// made here by the float64 (cpu64) backend for batch 3 of 3x24x20 images, passes on the GPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime, runtime, Rng, type SafeArray } from '@wgtorch/tensor';
import { writeSafetensors } from '@wgtorch/tensor/node';
import { SGD, crossEntropy, noGrad, tensor, tidy, type Tensor } from '@wgtorch/autograd';
import { ResNet20 } from './model.js';
import { formatGolden, runGolden } from './golden.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

async function f32(t: Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.toArray());
}

/** A fixture like ../shared/fixtures/resnet20-golden-s0 with float64 values from the references. */
async function makeFixture(path: string, shape: [number, number, number, number]): Promise<void> {
  const out = new Map<string, { shape: readonly number[]; data: SafeArray }>();
  const put = async (k: string, t: Tensor) => out.set(k, { shape: [...t.shape], data: await f32(t) });
  // Seeds: a float32 run flips a ReLU wherever the float64 pre-activation is within rounding of
  // zero, and at batch 3 one flip moves every gradient below it by 2e-3 to 9e-2 (relative L2).
  // With data seed 11 and model seed 5, changing only the summation order of layer2.0.conv1's
  // forward (outputs equal to 2e-5) moved the gradients of layer2.2 and everything below it and
  // left layer3's unchanged: a flip between them. Seeds 12/12 then passed with either order
  // until the row-window kernels changed the order again: step 1 then failed from layer3.0
  // down, layer3.1 and above exact. With those kernels seeds 1-11 pass (both seeds equal); the
  // CLI test shows a 1% change in one gradient still fails.
  const rng = new Rng(11);
  const model = new ResNet20({ backend: 'cpu64', seed: 11 });
  for (const [k, t] of model.stateDict()) await put(`init.${k}`, t);
  const n = shape[0];
  const xs = [0, 1].map(() => tensor(rng.normalArray(shape.reduce((a, b) => a * b)), shape, { backend: 'cpu64' }));
  const ys = [0, 1].map(() => Int32Array.from({ length: n }, () => rng.int(10)));
  for (const i of [0, 1]) {
    await put(`x${i}`, xs[i]);
    out.set(`y${i}`, { shape: [n], data: ys[i] });
  }
  model.eval();
  await put(
    'logits_eval',
    noGrad(() => model.forward(xs[0])),
  );
  model.train();
  const params = model.namedParameters();
  const opt = new SGD(
    params.map(([, p]) => p),
    { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  );
  for (const step of [0, 1]) {
    const { logits, loss } = tidy(() => {
      const logits = model.forward(xs[step]);
      return { logits, loss: crossEntropy(logits, ys[step]) };
    });
    loss.backward();
    await put(`step${step}.logits_train`, logits);
    await put(`step${step}.loss`, loss);
    for (const [k, p] of params) await put(`step${step}.grad.${k}`, p.grad!);
    opt.step();
    opt.zeroGrad();
    for (const [k, t] of model.stateDict()) await put(`step${step}.after.${k}`, t);
  }
  writeSafetensors(path, out);
}

describe('pnpm resnet20 golden on other shapes', () => {
  it('batch 3 of 3x24x20 images, reference from the float64 backend', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'golden-shape-')), 'g.safetensors');
    await makeFixture(file, [3, 3, 24, 20]);
    const r = await runGolden(file);
    expect(r.batch).toBe(3);
    expect(r.imageShape).toEqual([3, 24, 20]);
    expect(r.ok, formatGolden(r)).toBe(true);
  }, 120_000);
});
