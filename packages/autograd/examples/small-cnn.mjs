// A small CNN trained for a few steps on random data with @wgtorch/autograd, then saved to a
// safetensors file and loaded into a fresh copy.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wg from '@wgtorch/autograd';
import { save, load } from '@wgtorch/autograd/node'; // files by path (Node only)
const { Sequential, Conv2d, BatchNorm2d, ReLU, AdaptiveAvgPool2d, Flatten, Linear, SGD, OneCycleLR } = wg;

await wg.getRuntime();
wg.manualSeed(0);
const smallCnn = () =>
  new Sequential(
    new Conv2d(3, 16, 3, { padding: 1, bias: false }),
    new BatchNorm2d(16),
    new ReLU(),
    new Conv2d(16, 32, 3, { stride: 2, padding: 1, bias: false }),
    new BatchNorm2d(32),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(32, 10),
  );
const model = smallCnn();
const x = wg.randn([16, 3, 16, 16], { seed: 1 });
const y = Int32Array.from({ length: 16 }, (_, i) => i % 10);
const steps = 30;
const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
const sched = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: steps });
for (let step = 0; step < steps; step++) {
  const loss = wg.tidy(() => {
    const loss = wg.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    sched.step();
    return loss; // everything else made in this step is freed here
  });
  if (step % 10 === 0 || step === steps - 1) console.log(`step ${step} loss ${(await loss.item()).toFixed(4)}`);
  loss.dispose();
}

// Weights with PyTorch's names, written atomically; in a browser: saveBytes/loadBytes/loadUrl.
const file = join(tmpdir(), 'small-cnn.safetensors');
await save(model, file);
const copy = smallCnn();
load(copy, file);
const evalLoss = async (m) => {
  const loss = wg.noGrad(() => wg.crossEntropy(m.eval().forward(x), y));
  const value = await loss.item();
  loss.dispose();
  return value.toFixed(4);
};
console.log(`saved ${file}; eval loss ${await evalLoss(model)}, loaded copy ${await evalLoss(copy)}`);
wg.destroyRuntime();
