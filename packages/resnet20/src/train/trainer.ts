// `pnpm train`: ResNet20 on CIFAR-10 through the WGSL kernels.
//
// The step loop never waits for the GPU inside a step: a step is recorded, then the previous
// step is awaited (sleeping, see SubmitPacer), then this one is submitted, so the CPU prepares
// step i+1 while the GPU runs step i. Loss and accuracy accumulate in GPU tensors and are read
// back once per logging interval. Everything that decides what a step does (data order,
// augmentation, schedule position) is a function of (seed, epoch, step), so a run resumed from
// a checkpoint prints the same numbers as one that was never interrupted.

import { mkdirSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeAdapter, getRuntime, SubmitPacer, Tensor as DeviceTensor, writeFileAtomic } from '@wgtorch/tensor';
import { accumulate, accuracyCount, autotuneConv2dVariant, describeConv2dAutotune } from '@wgtorch/kernels-wgsl';
import {
  CosineAnnealingLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  SGD,
  crossEntropy,
  fromDevice,
  noGrad,
  tidy,
  type LRScheduler,
  type Parameter,
} from '@wgtorch/autograd';
import { ResNet20 } from '../model.js';
import { loadCifar10, TrainLoader, testBatches, uploadBatch, type CifarSplit, subsetSplit } from '../data/index.js';
import { ProgressBar } from '../util/progress.js';
import { parseTrainArgs, TRAIN_HELP, type TrainConfig } from './config.js';
import { loadCheckpoint, saveCheckpoint, type NamedArrays } from './checkpoint.js';
import { trainStep } from './step.js';
import { appendMetrics, finalSummary, tableHeader, tableRow, type EpochMetrics } from './report.js';
import { curvesSvg } from './plot.js';

/** What a checkpoint's metadata holds besides weights and momentum. */
export interface TrainerState {
  version: 1;
  config: TrainConfig;
  /** The next step to run: epoch and step within it. */
  epoch: number;
  step: number;
  globalStep: number;
  elapsedSec: number;
  history: EpochMetrics[];
  /** Sums over the part of the current epoch already trained. */
  partial: { lossSum: number; correct: number; images: number; trainSec: number };
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** Parameters that get weight decay: conv and linear weights (not BN parameters, not biases). */
export function decayGroups(model: ResNet20, decayAll: boolean): { decay: Parameter[]; noDecay: Parameter[] } {
  const decay: Parameter[] = [];
  const noDecay: Parameter[] = [];
  for (const [, p] of model.namedParameters()) (decayAll || p.ndim > 1 ? decay : noDecay).push(p);
  return { decay, noDecay };
}

export function makeSchedule(cfg: TrainConfig, opt: SGD, totalSteps: number): LRScheduler {
  switch (cfg.schedule) {
    case 'onecycle':
      // The reference recipe: lr/10 -> lr over the warm-up, then linearly to lr/1000.
      return new OneCycleLR(opt, { maxLr: cfg.lr, totalSteps, pctStart: cfg.warmup, divFactor: 10, finalDivFactor: 100, annealStrategy: 'linear' });
    case 'cosine':
      return new CosineAnnealingLR(opt, { tMax: totalSteps, warmupSteps: Math.round(cfg.warmup * totalSteps), warmupStartFactor: 0.1 });
    case 'multistep':
      return new MultiStepLR(opt, { milestones: cfg.milestones.map((f) => Math.round(f * totalSteps)), gamma: 0.1 });
    case 'linear':
      return new LinearLR(opt, { startFactor: 1, endFactor: 0, totalIters: totalSteps });
    case 'constant':
      return new MultiStepLR(opt, { milestones: [], gamma: 1 });
  }
}

interface Run {
  cfg: TrainConfig;
  model: ResNet20;
  opt: SGD;
  sched: LRScheduler;
  names: Map<Parameter, string>;
}

async function checkpointArrays(run: Run): Promise<{ model: NamedArrays; optimizer: NamedArrays }> {
  const model: NamedArrays = {};
  for (const [k, t] of run.model.stateDict()) model[k] = { shape: t.shape, data: (await t.toArray()) as Float32Array };
  const optimizer: NamedArrays = {};
  const all = run.opt.paramGroups.flatMap((g) => g.params);
  const st = await run.opt.stateDict();
  for (const [i, v] of st.momentumBuffers) optimizer[`momentum.${run.names.get(all[Number(i)])}`] = v;
  return { model, optimizer };
}

async function save(run: Run, path: string, state: TrainerState): Promise<void> {
  const arrays = await checkpointArrays(run);
  saveCheckpoint(path, { ...arrays, state });
}

function restore(run: Run, path: string): TrainerState {
  const ck = loadCheckpoint<TrainerState & { scheduler: { step: number } }>(path);
  run.model.loadStateDict(ck.model);
  const all = run.opt.paramGroups.flatMap((g) => g.params);
  const index = new Map<string, number>();
  all.forEach((p, i) => index.set(run.names.get(p)!, i));
  const momentumBuffers = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of Object.entries(ck.optimizer)) {
    const name = k.replace(/^momentum\./, '');
    const i = index.get(name);
    if (i === undefined) throw new Error(`${path}: momentum for unknown parameter '${name}'.`);
    momentumBuffers.set(String(i), { shape: [...v.shape], data: v.data });
  }
  run.opt.loadStateDict({ groups: run.opt.paramGroups.map(({ params: _p, ...g }) => g), momentumBuffers });
  run.sched.loadStateDict({ step: ck.state.globalStep });
  return ck.state;
}

/** Test loss and accuracy (eval mode, no grad), one readback at the end. */
export async function evaluate(model: ResNet20, split: CifarSplit, batchSize = 256): Promise<{ loss: number; acc: number }> {
  model.eval();
  const lossSum = DeviceTensor.zeros([1]);
  const correct = DeviceTensor.zeros([1]);
  for (const b of testBatches(split, batchSize)) {
    const g = uploadBatch(b);
    noGrad(() =>
      tidy(() => {
        const logits = model.forward(fromDevice(g.x.reshape(g.x.shape)));
        const loss = crossEntropy(logits, g.labels);
        accumulate(lossSum, loss.data, b.size);
        accuracyCount(logits.data, g.labels, correct);
      }),
    );
    g.dispose();
  }
  const [l, c] = [await lossSum.item(), await correct.item()];
  lossSum.dispose();
  correct.dispose();
  model.train();
  return { loss: l / split.n, acc: c / split.n };
}

function latestRunDir(): string | undefined {
  if (!existsSync('runs')) return undefined;
  const dirs = readdirSync('runs')
    .map((d) => join('runs', d))
    .filter((d) => existsSync(join(d, CHECKPOINT_FILE)))
    .sort((a, b) => statSync(join(b, CHECKPOINT_FILE)).mtimeMs - statSync(join(a, CHECKPOINT_FILE)).mtimeMs);
  return dirs[0];
}

export async function trainMain(argv: string[]): Promise<number> {
  const parsed = parseTrainArgs(argv);
  if (parsed === 'help') {
    console.log(TRAIN_HELP);
    return 0;
  }
  let cfg = parsed;
  if (cfg.resume && !argv.includes('--run-dir')) {
    const latest = latestRunDir();
    if (!latest) throw new Error('--resume: no run with a checkpoint under runs/; pass --run-dir DIR.');
    cfg = { ...cfg, runDir: latest };
  }
  const ckptPath = join(cfg.runDir, CHECKPOINT_FILE);
  let resumeState: TrainerState | undefined;
  if (cfg.resume) {
    // The run's own configuration wins, except what may change between sessions.
    resumeState = loadCheckpoint<TrainerState>(ckptPath).state;
    cfg = {
      ...resumeState.config,
      resume: true,
      runDir: cfg.runDir,
      timeBudget: cfg.timeBudget,
      stopAfterSteps: cfg.stopAfterSteps,
      dataDir: cfg.dataDir ?? resumeState.config.dataDir,
      quiet: cfg.quiet,
      logEvery: cfg.logEvery,
    };
  }
  const rt = await getRuntime();
  const log = (s: string) => console.log(s);
  log(`adapter: ${describeAdapter(rt.report)}`);
  log(describeConv2dAutotune(await autotuneConv2dVariant()));

  const data = await loadCifar10({ dataDir: cfg.dataDir });
  const testSplit = cfg.testSubset ? subsetSplit(data.test, cfg.testSubset) : data.test;
  log(`data: ${data.dir} (${data.train.n} train, ${testSplit.n} test images, verified)`);
  mkdirSync(cfg.runDir, { recursive: true });
  writeFileSync(join(cfg.runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');

  const model = new ResNet20({ shortcut: cfg.shortcut, seed: cfg.seed });
  const names = new Map(model.namedParameters().map(([n, p]) => [p, n] as [Parameter, string]));
  const { decay, noDecay } = decayGroups(model, cfg.decayAll);
  const opt = new SGD(
    [
      { params: decay, weightDecay: cfg.weightDecay },
      { params: noDecay, weightDecay: cfg.decayAll ? cfg.weightDecay : 0 },
    ],
    { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay },
  );
  const loader = new TrainLoader(data.train, { batchSize: cfg.batchSize, seed: cfg.seed });
  const steps = cfg.stepsPerEpoch ? Math.min(cfg.stepsPerEpoch, loader.steps) : loader.steps;
  const totalSteps = cfg.epochs * steps;
  const sched = makeSchedule(cfg, opt, totalSteps);
  const run: Run = { cfg, model, opt, sched, names };
  log(`model: ResNet20 (shortcut ${cfg.shortcut}), ${model.numParameters().toLocaleString('en-US')} parameters; ${cfg.epochs} epochs x ${steps} steps of ${cfg.batchSize}; ${cfg.schedule} lr peak ${cfg.lr}; run dir ${cfg.runDir}`);

  let state: TrainerState = {
    version: 1,
    config: cfg,
    epoch: 0,
    step: 0,
    globalStep: 0,
    elapsedSec: 0,
    history: [],
    partial: { lossSum: 0, correct: 0, images: 0, trainSec: 0 },
  };
  if (resumeState) {
    state = restore(run, ckptPath);
    log(`resumed from ${ckptPath} at epoch ${state.epoch + 1}, step ${state.step} (global step ${state.globalStep})`);
  }

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now
    interrupted = true;
    console.error('\ninterrupted: finishing this step and saving a checkpoint (Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onSigint);
  const started = performance.now() - state.elapsedSec * 1000;
  const elapsed = () => (performance.now() - started) / 1000;
  const pacer = new SubmitPacer(rt);
  let stopReason: string | undefined;
  let sessionSteps = 0;

  log(tableHeader());
  try {
    for (let epoch = state.epoch; epoch < cfg.epochs && !stopReason; epoch++) {
      const lossSum = DeviceTensor.full([1], state.partial.lossSum);
      const correct = DeviceTensor.full([1], state.partial.correct);
      let images = state.partial.images;
      let trainSec = state.partial.trainSec;
      const bar = cfg.quiet ? undefined : new ProgressBar({ total: steps * cfg.batchSize, label: `epoch ${epoch + 1}/${cfg.epochs}` });
      bar?.update(images);
      let segmentStart = performance.now();
      let step = state.step;
      for (; step < steps; step++) {
        const batch = loader.batch(epoch, step);
        const g = uploadBatch(batch);
        trainStep(model, opt, sched, g.x, g.labels, { lossSum, correct }, cfg.labelSmoothing);
        g.dispose();
        await pacer.throttle(); // the previous step (on a GPU, the one before it), mostly asleep
        pacer.submit();
        images += batch.size;
        state.globalStep++;
        const last = step === steps - 1;
        if ((step + 1) % cfg.logEvery === 0 || last || interrupted) {
          await pacer.wait();
          const [l, c] = [await lossSum.item(), await correct.item()];
          if (!Number.isFinite(l)) {
            stopReason = `the training loss became ${l} at epoch ${epoch + 1}, step ${step + 1}; the last good checkpoint (${ckptPath}) is kept. Try a lower --lr.`;
            break;
          }
          bar?.update(images, { loss: (l / images).toFixed(3), acc: `${((100 * c) / images).toFixed(1)}%`, lr: sched.getLastLr()[0].toExponential(2) });
        }
        if (interrupted) {
          stopReason = 'interrupted';
          step++;
          break;
        }
        if (cfg.stopAfterSteps && ++sessionSteps >= cfg.stopAfterSteps) {
          stopReason = `step limit of ${cfg.stopAfterSteps} reached`;
          step++;
          break;
        }
        if (cfg.timeBudget && elapsed() > cfg.timeBudget) {
          stopReason = `time budget of ${cfg.timeBudget} s reached`;
          step++;
          break;
        }
      }
      await pacer.wait();
      trainSec += (performance.now() - segmentStart) / 1000;
      const [ls, cs] = [await lossSum.item(), await correct.item()];
      lossSum.dispose();
      correct.dispose();
      bar?.finish();
      if (stopReason && !Number.isFinite(ls)) break;

      if (step < steps) {
        // Stopped inside the epoch: save where we are, with the partial sums.
        state = { ...state, epoch, step, elapsedSec: elapsed(), partial: { lossSum: ls, correct: cs, images, trainSec } };
        await save(run, ckptPath, state);
        log(`saved ${ckptPath} at epoch ${epoch + 1}, step ${step}`);
        break;
      }
      const ev = await evaluate(model, testSplit);
      segmentStart = performance.now();
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: ls / images,
        trainAcc: cs / images,
        testLoss: ev.loss,
        testAcc: ev.acc,
        lr: sched.getLastLr()[0],
        imagesPerSec: images / trainSec,
        elapsedSec: elapsed(),
        steps,
      };
      log(tableRow(m));
      state = {
        ...state,
        epoch: epoch + 1,
        step: 0,
        elapsedSec: m.elapsedSec,
        history: [...state.history, m],
        partial: { lossSum: 0, correct: 0, images: 0, trainSec: 0 },
      };
      appendMetrics(join(cfg.runDir, 'metrics.jsonl'), m);
      writeFileAtomic(join(cfg.runDir, 'curves.svg'), curvesSvg(state.history));
      await save(run, ckptPath, state);
      const best = state.history.reduce((a, b) => (b.testAcc > a.testAcc ? b : a));
      if (best === m) writeFileAtomic(join(cfg.runDir, 'best.json'), JSON.stringify(m, null, 2) + '\n');
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const cleanStop = stopReason === 'interrupted' || stopReason?.startsWith('time budget') || stopReason?.startsWith('step limit');
  if (stopReason && !cleanStop) {
    console.error(`stopped: ${stopReason}`);
    return 3;
  }
  if (stopReason) log(`stopped: ${stopReason}; continue with: pnpm train --resume --run-dir ${cfg.runDir}`);
  log(finalSummary(state.history, elapsed()));
  opt.dispose();
  model.dispose();
  return stopReason === 'interrupted' ? 130 : 0;
}
