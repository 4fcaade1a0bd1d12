// Cold start, run in a fresh process by e2e.ts: from this module's first line (dawn.node loaded
// by the import below, device not yet acquired) to the first ResNet20 training step finished on
// the GPU, shader compilation, pipeline creation and the trainer's conv2d autotune included.
// Prints coldStartMs=...
export {};
const t0 = performance.now();
const { getRuntime, Rng, Tensor } = await import('@wgtorch/tensor');
const { SGD } = await import('@wgtorch/autograd');
const { ResNet20, trainStep } = await import('@wgtorch/resnet20');
const { autotuneConv2dVariant } = await import('@wgtorch/kernels-wgsl');
const rt = await getRuntime();
await autotuneConv2dVariant();
const model = new ResNet20({ seed: 0 });
const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
const rng = new Rng(0);
const x = Tensor.randn([128, 3, 32, 32], { rng });
const labels = Tensor.fromArray(
  Int32Array.from({ length: 128 }, () => rng.int(10)),
  [128],
  'i32',
);
trainStep(model, opt, undefined, x, labels, undefined);
await rt.sync();
const ms = performance.now() - t0;
// A second, warm step: the difference is what compiling pipelines cost.
const t1 = performance.now();
trainStep(model, opt, undefined, x, labels, undefined);
await rt.sync();
const warm = performance.now() - t1;
console.log(
  `coldStartMs=${ms.toFixed(1)} warmStepMs=${warm.toFixed(1)} sinceProcessStart=${performance.now().toFixed(1)} ` +
    `pipelines=${rt.dispatcher.counters.pipelinesCompiled}`,
);
rt.destroy();
process.exit(0);
