// `pnpm train`: ResNet20 on CIFAR-10 through the WGSL kernels.
//
// The step loop never waits for the GPU inside a step: a step is recorded, then the previous
// step is awaited (sleeping, see SubmitPacer), then this one is submitted, so the CPU prepares
// step i+1 while the GPU runs step i. Loss and accuracy accumulate in GPU tensors and are read
// back once per logging interval. Everything that decides what a step does (data order,
// augmentation, schedule position) is a function of (seed, epoch, step), so a run resumed from
// a checkpoint prints the same numbers as one that was never interrupted.

import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { describeAdapter, getRuntime, SubmitPacer, Tensor as DeviceTensor } from '@wgtorch/tensor';
import { writeFileAtomic } from '@wgtorch/tensor/node';
import { autotuneConv2dVariant, describeConv2dAutotune } from '@wgtorch/kernels-wgsl';
import { type LRScheduler, type Parameter, type SGD } from '@wgtorch/autograd';
import { ResNet20 } from '../model.js';
import { loadCifar10, TrainLoader, subsetSplit } from '../data/index.js';
import { ProgressBar } from '../util/progress.js';
import { parseTrainArgs, TRAIN_HELP, TrainError, type TrainConfig } from './config.js';
import { saveCheckpoint, type Checkpoint, type NamedArrays } from './checkpoint.js';
import { evaluate } from './step.js';
import { progressLogger, trainSegment, type LoopRun } from './loop.js';
import { finalLr, makeOptimizer, makeSchedule } from './optim.js';
import { finalSummary, metricsJsonl, tableHeader, tableRow, type EpochMetrics } from './report.js';
import { curvesSvg } from './plot.js';
import {
  CHECKPOINT_FILE,
  describePosition,
  planResume,
  prepareNewRunDir,
  type Resumption,
  type TrainerState,
} from './run-dir.js';

export { CHECKPOINT_FILE, type TrainerState } from './run-dir.js';
export { decayGroups, finalLr, makeOptimizer, makeSchedule } from './optim.js';
export { evaluate } from './step.js';

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

/** The first value that is NaN or infinite, as "<tensor> holds <value>". */
function firstNonFinite(...groups: NamedArrays[]): string | undefined {
  for (const g of groups) {
    for (const [k, v] of Object.entries(g)) {
      const bad = v.data.find((x) => !Number.isFinite(x));
      if (bad !== undefined) return `${k} holds ${bad}`;
    }
  }
  return undefined;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Loads weights, momentum buffers and the schedule position. Every check comes first: a
 * checkpoint that lacks a momentum buffer, or holds one of another shape, is refused.
 */
function restore(run: Run, ck: Checkpoint<TrainerState>, path: string): void {
  const damaged = 'the checkpoint is damaged or was not written by this trainer for this model.';
  const params = run.opt.paramGroups.flatMap((g) => g.params);
  const index = new Map(params.map((p, i) => [run.names.get(p)!, i]));
  for (const k of Object.keys(ck.optimizer)) {
    const name = k.replace(/^momentum\./, '');
    if (!index.has(name)) throw new TrainError(`${path}: momentum buffer for unknown parameter '${name}'; ${damaged}`);
  }
  // Every parameter has a momentum buffer once one step with momentum has run.
  const expected = run.cfg.momentum !== 0 && ck.state.globalStep > 0;
  const momentumBuffers = new Map<string, { shape: number[]; data: Float32Array }>();
  params.forEach((p, i) => {
    const name = run.names.get(p)!;
    const v = ck.optimizer[`momentum.${name}`];
    if (!v) {
      if (expected)
        throw new TrainError(
          `${path}: the momentum buffer of '${name}' [${p.shape.join(', ')}] is missing ` +
            `(the run uses momentum ${run.cfg.momentum} and has trained ${ck.state.globalStep} ` +
            `step${ck.state.globalStep === 1 ? '' : 's'}); ${damaged}`,
        );
      return;
    }
    if (!sameShape(v.shape, p.shape)) {
      throw new TrainError(
        `${path}: the momentum buffer of '${name}' has shape [${v.shape.join(', ')}], ` +
          `the parameter [${p.shape.join(', ')}]; ${damaged}`,
      );
    }
    momentumBuffers.set(String(i), { shape: [...v.shape], data: v.data });
  });
  try {
    run.model.loadStateDict(ck.model);
  } catch (e) {
    throw new TrainError(`${path}: ${(e as Error).message}`, { cause: e });
  }
  run.opt.loadStateDict({ groups: run.opt.paramGroups.map(({ params: _p, ...g }) => g), momentumBuffers });
  run.sched.loadStateDict({ step: ck.state.globalStep });
}

/** What the run folder holds, for messages after a failure. */
function onDisk(ckptPath: string, saved: TrainerState | undefined): string {
  return saved
    ? `${ckptPath} holds the run at ${describePosition(saved)}`
    : `no checkpoint was saved (${ckptPath} does not exist)`;
}

/**
 * Writes one file of the run folder. Any failure (a full disk, a folder in the way) ends the
 * run with an error naming the file and the system's message, and saying what is on disk.
 */
function writeRunFile(path: string, write: () => void, ckptPath: string, saved: TrainerState | undefined): void {
  try {
    write();
  } catch (e) {
    const dir = join(path, '..');
    const next = saved
      ? `${path === ckptPath ? 'The previous checkpoint is untouched' : 'The checkpoint is saved'}: ` +
        `${onDisk(ckptPath, saved)}. Once the cause is fixed, continue with: pnpm train --resume --run-dir ${dir}`
      : `No checkpoint was saved. Once the cause is fixed, start again (with --overwrite to reuse ${dir}).`;
    const msg = (e as Error).message;
    throw new TrainError(`${msg.includes(path) ? msg : `cannot write ${path}: ${msg}`}\n${next}`, { cause: e });
  }
}

/** metrics.jsonl, curves.svg and best.json, all from the history (so they always agree with the checkpoint). */
function writeRecords(dir: string, history: EpochMetrics[], ckptPath: string, saved: TrainerState | undefined): void {
  if (!history.length) return;
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeRunFile(path, () => writeFileAtomic(path, text), ckptPath, saved);
  };
  write('metrics.jsonl', metricsJsonl(history));
  write('curves.svg', curvesSvg(history));
  const best = history.reduce((a, b) => (b.testAcc > a.testAcc ? b : a));
  write('best.json', JSON.stringify(best, null, 2) + '\n');
}

/**
 * `pnpm train`. Returns the exit code: 0 when the run finished or stopped at its step limit or
 * time budget (with a checkpoint), 128 + the signal's number after SIGINT or SIGTERM (with a
 * checkpoint), 3 when the loss or the weights became NaN or infinite (nothing saved after that).
 * Throws TrainError for refused options and failed writes.
 */
export async function trainMain(argv: string[]): Promise<number> {
  const args = parseTrainArgs(argv);
  if (args === 'help') {
    console.log(TRAIN_HELP);
    return 0;
  }
  const log = (s: string) => console.log(s);
  let cfg = args.config;
  let resumption: Resumption | undefined;
  if (cfg.resume) {
    const plan = planResume(args);
    if ('finished' in plan) {
      log(plan.finished);
      return 0;
    }
    ({ cfg } = plan);
    resumption = plan;
  } else {
    prepareNewRunDir(cfg);
  }
  if (cfg.epochs > cfg.scheduleEpochs) {
    const lr = finalLr(cfg);
    const past =
      `--epochs ${cfg.epochs} runs past the ${cfg.schedule} schedule, ` +
      `which ends with epoch ${cfg.scheduleEpochs} at lr ${Number(lr.toPrecision(6))}`;
    if (lr === 0)
      throw new TrainError(
        `${past}: the added epochs would not train. ` +
          `Add --reschedule to redefine the schedule over ${cfg.epochs} epochs.`,
      );
    const added =
      cfg.epochs === cfg.scheduleEpochs + 1
        ? `epoch ${cfg.epochs} keeps`
        : `epochs ${cfg.scheduleEpochs + 1}-${cfg.epochs} keep`;
    resumption?.notes.push(
      `${past}; ${added} that lr (add --reschedule to redefine the schedule over ${cfg.epochs} epochs).`,
    );
  }
  for (const n of resumption?.notes ?? []) log(`note: ${n}`);
  const ckptPath = join(cfg.runDir, CHECKPOINT_FILE);
  /** The state the checkpoint on disk holds; undefined while none was saved. */
  let saved: TrainerState | undefined = resumption?.checkpoint.state;

  const rt = await getRuntime();
  log(`adapter: ${describeAdapter(rt.report)}`);
  log(describeConv2dAutotune(await autotuneConv2dVariant()));

  const data = await loadCifar10({ dataDir: cfg.dataDir });
  const testSplit = cfg.testSubset ? subsetSplit(data.test, cfg.testSubset) : data.test;
  log(`data: ${data.dir} (${data.train.n} train, ${testSplit.n} test images, verified)`);
  mkdirSync(cfg.runDir, { recursive: true });
  const configPath = join(cfg.runDir, 'config.json');
  writeRunFile(configPath, () => writeFileAtomic(configPath, JSON.stringify(cfg, null, 2) + '\n'), ckptPath, saved);

  const model = new ResNet20({ shortcut: cfg.shortcut, seed: cfg.seed });
  const names = new Map(model.namedParameters().map(([n, p]) => [p, n] as [Parameter, string]));
  const opt = makeOptimizer(model, cfg);
  let signal: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signal) process.exit(128 + constants.signals[sig]); // a second signal: leave now
    signal = sig;
    console.error(
      `\n${sig === 'SIGINT' ? 'interrupted' : 'terminated (SIGTERM)'}: finishing this step and saving a checkpoint ` +
        `(${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to quit without saving)`,
    );
  };
  try {
    const loader = new TrainLoader(data.train, { batchSize: cfg.batchSize, seed: cfg.seed });
    const steps = cfg.stepsPerEpoch ? Math.min(cfg.stepsPerEpoch, loader.steps) : loader.steps;
    const sched = makeSchedule(cfg, opt, cfg.scheduleEpochs * steps);
    const run: Run = { cfg, model, opt, sched, names };
    log(
      `model: ResNet20 (shortcut ${cfg.shortcut}), ${model.numParameters().toLocaleString('en-US')} parameters; ` +
        `${cfg.epochs} epochs x ${steps} steps of ${cfg.batchSize}; ${cfg.schedule} lr peak ${cfg.lr}; ` +
        `run dir ${cfg.runDir}`,
    );

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
    if (resumption) {
      restore(run, resumption.checkpoint, ckptPath);
      state = { ...resumption.checkpoint.state, config: cfg };
      log(`resumed from ${ckptPath} at ${describePosition(state)}`);
      writeRecords(cfg.runDir, state.history, ckptPath, saved);
    }

    /** Writes the checkpoint, unless a weight or momentum value is NaN or infinite: then returns why not. */
    const save = async (next: TrainerState): Promise<string | undefined> => {
      const arrays = await checkpointArrays(run);
      const bad = firstNonFinite(arrays.model, arrays.optimizer);
      if (bad) return `the weights became non-finite (${bad}) by ${describePosition(next)}`;
      writeRunFile(ckptPath, () => saveCheckpoint(ckptPath, { ...arrays, state: next }), ckptPath, saved);
      saved = next;
      return undefined;
    };

    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const started = performance.now() - state.elapsedSec * 1000;
    const elapsed = () => (performance.now() - started) / 1000;
    const pacer = new SubmitPacer(rt);
    /** Why this session stops early, with a checkpoint. */
    let pause: string | undefined;
    /** Why training cannot go on: the loss or the weights are no longer finite. Nothing is saved after that. */
    let diverged: string | undefined;
    /** When the loss was not read back at every step: how late `diverged` may have noticed. */
    let lag = '';
    let globalStep = state.globalStep;
    let sessionSteps = 0;

    log(tableHeader());
    const loop: LoopRun = {
      model,
      opt,
      sched,
      loader,
      pacer,
      labelSmoothing: cfg.labelSmoothing,
      logEvery: cfg.logEvery,
      capture: cfg.capture,
    };
    /** Why this segment should stop after the step just submitted. */
    const stop = (): string | undefined => {
      if (signal) return `interrupted (${signal})`;
      if (cfg.stopAfterSteps && ++sessionSteps >= cfg.stopAfterSteps)
        return `step limit of ${cfg.stopAfterSteps} reached`;
      if (cfg.timeBudget && elapsed() > cfg.timeBudget) return `time budget of ${cfg.timeBudget} s reached`;
      return undefined;
    };
    for (let epoch = state.epoch; epoch < cfg.epochs && !pause && !diverged && !signal; epoch++) {
      const lossSum = DeviceTensor.full([1], state.partial.lossSum);
      const correct = DeviceTensor.full([1], state.partial.correct);
      try {
        const bar = cfg.quiet
          ? undefined
          : new ProgressBar({ total: steps * cfg.batchSize, label: `epoch ${epoch + 1}/${cfg.epochs}` });
        bar?.update(state.partial.images);
        const seg = await trainSegment(loop, {
          epoch,
          from: state.step,
          to: steps,
          images: state.partial.images,
          acc: { lossSum, correct },
          onLog: bar && progressLogger(bar),
          stop,
        });
        globalStep += seg.step - state.step;
        const { step, images } = seg;
        const trainSec = state.partial.trainSec + seg.sec;
        const [ls, cs] = [seg.lossSum, seg.correct];
        pause = seg.stopped;
        bar?.finish();
        // The loss is read back only now and then: a stop between readbacks must not save a diverged run.
        if (seg.nonFinite) {
          const { loss, step: at, unread } = seg.nonFinite;
          if (unread > 0)
            lag =
              ` The loss is read back every ${cfg.logEvery} steps (--log-every): ` +
              `it may have become ${loss} up to ${unread} step${unread === 1 ? '' : 's'} earlier.`;
          diverged = `the training loss became ${loss} at epoch ${epoch + 1}, step ${at}`;
          break;
        }

        if (step < steps) {
          // Stopped inside the epoch: save where we are, with the partial sums.
          state = {
            ...state,
            epoch,
            step,
            globalStep,
            elapsedSec: elapsed(),
            partial: { lossSum: ls, correct: cs, images, trainSec },
          };
          diverged = await save(state);
          if (!diverged) log(`saved ${ckptPath} at epoch ${epoch + 1}, step ${step}`);
          break;
        }
        const ev = await evaluate(model, testSplit);
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
          globalStep,
          elapsedSec: m.elapsedSec,
          history: [...state.history, m],
          partial: { lossSum: 0, correct: 0, images: 0, trainSec: 0 },
        };
        // The checkpoint first: the records written after it always agree with a checkpoint on disk.
        diverged = await save(state);
        if (!diverged) writeRecords(cfg.runDir, state.history, ckptPath, saved);
      } finally {
        lossSum.dispose();
        correct.dispose();
      }
    }

    if (diverged) {
      const kept = saved
        ? `the last good checkpoint (${ckptPath}, at ${describePosition(saved)}) is kept. ` +
          'Resuming with the same settings repeats the same steps: ' +
          `lower the lr (pnpm train --resume --reschedule --lr X --run-dir ${cfg.runDir}) ` +
          'or start over with --overwrite.'
        : `${onDisk(ckptPath, saved)}, so there is nothing to resume: ` +
          `start again with a lower --lr (add --overwrite to reuse ${cfg.runDir}).`;
      console.error(`stopped: ${diverged}; ${kept}${lag}`);
      return 3;
    }
    if (signal && !pause) pause = `interrupted (${signal})`;
    if (pause)
      log(`stopped: ${pause}; ${onDisk(ckptPath, saved)}; continue with: pnpm train --resume --run-dir ${cfg.runDir}`);
    log(finalSummary(state.history, elapsed()));
    return signal ? 128 + constants.signals[signal] : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    opt.dispose();
    model.dispose();
  }
}
