// CPU cost of recording one ResNet20 training step (JS autograd + dispatcher + Dawn encoding),
// separate from GPU time: on a fast GPU this is what bounds a step.
// Run: node scripts/run-ts.mjs benchmarks/src/e2e-record-cost.ts
import { getRuntime, Rng, Tensor } from '@wgtorch/tensor';
import { SGD } from '@wgtorch/autograd';
import { ResNet20, trainStep } from '@wgtorch/resnet20';

const rt = await getRuntime();
const B = Number(process.argv[2] ?? 16);
const model = new ResNet20({ seed: 0 });
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
const rng = new Rng(0);
const x = Tensor.randn([B, 3, 32, 32], { rng });
const labels = Tensor.fromArray(
  Int32Array.from({ length: B }, () => rng.int(10)),
  [B],
  'i32',
);
const times: number[] = [];
let bindGroupsAt5 = 0;
const submitTimes: number[] = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  trainStep(model, opt, undefined, x, labels, undefined);
  const t1 = performance.now();
  rt.flush();
  const t2 = performance.now();
  await rt.sync();
  if (i === 4) bindGroupsAt5 = rt.dispatcher.counters.bindGroupsCreated;
  if (i >= 5) {
    times.push(t1 - t0);
    submitTimes.push(t2 - t1);
  }
}
times.sort((a, b) => a - b);
submitTimes.sort((a, b) => a - b);
console.log(
  `recording one training step: median ${times[times.length >> 1].toFixed(2)} ms (min ${times[0].toFixed(2)}), ` +
    `submit ${submitTimes[submitTimes.length >> 1].toFixed(2)} ms; ` +
    `${rt.dispatcher.counters.dispatches / 30} dispatches per step, ` +
    `${((rt.dispatcher.counters.bindGroupsCreated - bindGroupsAt5) / 25).toFixed(1)} bind groups created per step ` +
    `after the first 5`,
);
rt.destroy();
process.exit(0);
