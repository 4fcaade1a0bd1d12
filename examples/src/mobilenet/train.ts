// pnpm example mobilenet: trains the depthwise-separable CNN on CIFAR-10 with Adam (the same
// data pipeline as `pnpm train`: verified files, GPU augmentation with crops and flips), and
// reports the test accuracy after its epochs and the time taken.
//
//   pnpm example mobilenet [--epochs N] [--batch B] [--lr LR] [--seed S] [--data-dir D] [--out DIR]

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Adam, CosineAnnealingLR, manualSeed } from '@wgtorch/autograd';
import { SubmitPacer, Tensor as DeviceTensor, runtime } from '@wgtorch/tensor';
import {
  ProgressBar,
  TrainLoader,
  evaluate,
  formatDuration,
  loadCifar10,
  progressLogger,
  trainSegment,
} from '@wgtorch/resnet20';
import { MobileNet } from './model.js';
import { exampleRoot, positiveArg, writeCurves, type Curve } from '../common.js';

export interface MobilenetOptions {
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  dataDir?: string;
  out: string;
}

export const MOBILENET_DEFAULTS: MobilenetOptions = {
  epochs: 2,
  batch: 128,
  lr: 2e-3,
  seed: 0,
  out: join(exampleRoot, 'runs', 'mobilenet'),
};

export async function trainMobilenet(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, name: string) => positiveArg('mobilenet', name, v, d);
  const o: MobilenetOptions = {
    epochs: num(values.epochs, MOBILENET_DEFAULTS.epochs, 'epochs'),
    batch: num(values.batch, MOBILENET_DEFAULTS.batch, 'batch'),
    lr: num(values.lr, MOBILENET_DEFAULTS.lr, 'lr'),
    seed: values.seed === undefined ? 0 : Number(values.seed),
    dataDir: values['data-dir'],
    out: values.out ?? MOBILENET_DEFAULTS.out,
  };
  const data = await loadCifar10({ dataDir: o.dataDir });
  manualSeed(o.seed);
  const model = new MobileNet();
  const loader = new TrainLoader(data.train, { batchSize: o.batch, seed: o.seed });
  const opt = new Adam(model.parameters(), { lr: o.lr });
  const pacer = new SubmitPacer(runtime());
  const sched = new CosineAnnealingLR(opt, { tMax: o.epochs * loader.steps, warmupSteps: loader.steps >> 2 });
  console.log(
    `MobileNet-style CNN: ${model.numParameters().toLocaleString('en-US')} parameters; ` +
      `${o.epochs} epochs of ${loader.steps} steps at batch ${o.batch}, Adam lr ${o.lr} (cosine)`,
  );
  const curve: Curve = { title: 'Depthwise-separable CNN on CIFAR-10', xLabel: 'epoch', series: {} };
  curve.series['train loss'] = [];
  curve.series['test loss'] = [];
  curve.series['train acc'] = [];
  curve.series['test acc'] = [];
  const t0 = performance.now();
  let last = { loss: NaN, acc: NaN };
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const bar = new ProgressBar({ total: loader.steps * o.batch, label: `epoch ${epoch + 1}/${o.epochs}` });
    const acc = { lossSum: DeviceTensor.zeros([1]), correct: DeviceTensor.zeros([1]) };
    // The trainer's own step loop (packages/resnet20/src/train/loop.ts): paced submits, no drain.
    const r = await trainSegment(
      { model, opt, sched, loader, pacer, labelSmoothing: 0, logEvery: 20 },
      { epoch, from: 0, to: loader.steps, images: 0, acc, onLog: progressLogger(bar) },
    );
    acc.lossSum.dispose();
    acc.correct.dispose();
    if (r.nonFinite)
      throw new Error(`pnpm example mobilenet: the loss is ${r.nonFinite.loss} at step ${r.nonFinite.step}.`);
    const trainLoss = r.lossSum / r.images;
    bar.finish();
    last = await evaluate(model, data.test);
    curve.series['train loss'].push([epoch + 1, trainLoss]);
    curve.series['test loss'].push([epoch + 1, last.loss]);
    curve.series['train acc'].push([epoch + 1, r.correct / r.images]);
    curve.series['test acc'].push([epoch + 1, last.acc]);
    writeCurves(o.out, curve);
    console.log(
      `epoch ${epoch + 1}: train loss ${trainLoss.toFixed(4)}  test loss ${last.loss.toFixed(4)}  ` +
        `test acc ${(last.acc * 100).toFixed(2)}%  (${formatDuration((performance.now() - t0) / 1000)})`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `test accuracy ${(last.acc * 100).toFixed(2)}% after ${o.epochs} epochs in ${formatDuration(seconds)} ` +
      `(${Math.round((o.epochs * loader.steps * o.batch) / seconds)} img/s with evaluation); ` +
      `curve: ${join(o.out, 'curves.svg')}`,
  );
  model.dispose();
}
