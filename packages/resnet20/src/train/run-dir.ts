// The run folder and its rules. A run folder holds one run: config.json, the checkpoint,
// metrics.jsonl, curves.svg, best.json. Without --resume, a folder that holds a run is refused
// (--overwrite removes its files first); with --resume, the run's own configuration wins, except
// what may change between sessions (see resumeConfig).

import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FLAG_OF, TrainError, type TrainArgs, type TrainConfig } from './config.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import type { EpochMetrics } from './report.js';

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
/** Every file a run writes into its folder. */
export const RUN_FILES = ['config.json', CHECKPOINT_FILE, 'metrics.jsonl', 'curves.svg', 'best.json'] as const;

/** Options that apply to one session and may differ on every resume. */
const SESSION: ReadonlySet<keyof TrainConfig> = new Set([
  'runDir',
  'resume',
  'dataDir',
  'timeBudget',
  'stopAfterSteps',
  'logEvery',
  'quiet',
  'capture',
  'reschedule',
  'overwrite',
]);
/** Options that define the LR schedule: they change on resume only with --reschedule. */
const SCHEDULE: ReadonlySet<keyof TrainConfig> = new Set(['lr', 'schedule', 'warmup', 'milestones']);

/** The run files present in `dir`. */
export function runFilesIn(dir: string): string[] {
  return RUN_FILES.filter((f) => existsSync(join(dir, f)));
}

/** The folder under ./runs whose checkpoint is newest, if any. */
export function latestRunDir(): string | undefined {
  if (!existsSync('runs')) return undefined;
  const dirs = readdirSync('runs')
    .map((d) => join('runs', d))
    .filter((d) => existsSync(join(d, CHECKPOINT_FILE)))
    .sort((a, b) => statSync(join(b, CHECKPOINT_FILE)).mtimeMs - statSync(join(a, CHECKPOINT_FILE)).mtimeMs);
  return dirs[0];
}

/** Where the run stands: "epoch 2" after a whole epoch, else "epoch 3, step 17", with the global step. */
export function describePosition(s: Pick<TrainerState, 'epoch' | 'step' | 'globalStep'>): string {
  return `${s.step === 0 ? `epoch ${s.epoch}` : `epoch ${s.epoch + 1}, step ${s.step}`} (global step ${s.globalStep})`;
}

/**
 * A new run: refuses a folder that holds a run unless --overwrite, which removes that run's
 * files (and temporary files a killed writer left) first. Nothing else in the folder is touched.
 */
export function prepareNewRunDir(cfg: TrainConfig): void {
  const dir = cfg.runDir;
  const found = runFilesIn(dir);
  if (found.length && !cfg.overwrite) {
    throw new TrainError(
      `${dir} already holds a run (${found.join(', ')}). Continue it with --resume --run-dir ${dir}, ` +
        `start it over with --overwrite (removes those files first), or choose another --run-dir.`,
    );
  }
  if (!cfg.overwrite || !existsSync(dir)) return;
  const leftovers = readdirSync(dir).filter((f) => RUN_FILES.some((r) => f.startsWith(`.${r}.`) && f.endsWith('.tmp')));
  for (const f of [...found, ...leftovers]) {
    try {
      rmSync(join(dir, f), { force: true });
    } catch (e) {
      throw new TrainError(`--overwrite: cannot remove ${join(dir, f)}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** A run to resume: its folder, the configuration of this session and the checkpoint to restore. */
export interface Resumption {
  cfg: TrainConfig;
  checkpoint: Checkpoint<TrainerState>;
  path: string;
  /** Lines to print before training (what changed, and why). */
  notes: string[];
}

/** The run --resume continues: --run-dir when given, else the newest under runs/. */
export function resumeDir(args: TrainArgs): string {
  if (args.given.has('runDir')) return args.config.runDir;
  const latest = latestRunDir();
  if (!latest) throw new TrainError('--resume: no run with a checkpoint under runs/; pass --run-dir DIR.');
  return latest;
}

/**
 * Loads the checkpoint of the run to resume and merges this session's options into the run's
 * configuration. Returns a message instead when the run has nothing left to train.
 */
export function planResume(args: TrainArgs): Resumption | { finished: string } {
  const dir = resumeDir(args);
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) {
    const found = runFilesIn(dir);
    throw new TrainError(
      found.length
        ? `--resume: ${dir} holds a run (${found.join(', ')}) that never saved a checkpoint, ` +
            'so there is nothing to resume; start it over with --overwrite.'
        : `--resume: no checkpoint at ${path}; start without --resume, or point --run-dir at a run that has one.`,
    );
  }
  const checkpoint = loadCheckpoint<TrainerState>(path);
  const { cfg, notes } = resumeConfig(args, checkpoint.state, dir);
  const st = checkpoint.state;
  if (st.epoch >= cfg.epochs) {
    const last = st.history[st.history.length - 1];
    const best = st.history.reduce<EpochMetrics | undefined>(
      (a, b) => (a && a.testAcc >= b.testAcc ? a : b),
      undefined,
    );
    const acc =
      last && best
        ? ` final test accuracy ${(100 * last.testAcc).toFixed(2)}%, ` +
          `best ${(100 * best.testAcc).toFixed(2)}% (epoch ${best.epoch});`
        : '';
    return {
      finished:
        `${dir}: the run is finished (${st.epoch} of ${cfg.epochs} epochs;${acc} ` +
        `checkpoint at ${describePosition(st)}). Nothing to train; ` +
        `to train further, resume with --epochs N (N > ${cfg.epochs}).`,
    };
  }
  return { cfg, checkpoint, path, notes };
}

/**
 * The configuration of a resumed session: the run's own, with the session options of this
 * command line; --epochs extends (or shortens) the run; --lr, --schedule, --warmup and
 * --milestones change only with --reschedule, which also redefines the schedule over the new
 * --epochs. Any other option that differs from the run's is refused, all listed at once.
 */
export function resumeConfig(args: TrainArgs, st: TrainerState, dir: string): { cfg: TrainConfig; notes: string[] } {
  // Checkpoints written before scheduleEpochs existed spanned their --epochs.
  const run: TrainConfig = { ...st.config, scheduleEpochs: st.config.scheduleEpochs ?? st.config.epochs };
  const want = args.config;
  const conflicts: string[] = [];
  for (const key of args.given) {
    if (SESSION.has(key) || key === 'epochs' || (SCHEDULE.has(key) && want.reschedule)) continue;
    if (JSON.stringify(want[key]) === JSON.stringify(run[key])) continue;
    const hint = SCHEDULE.has(key) ? ' (may change with --reschedule)' : '';
    conflicts.push(
      `${FLAG_OF[key]}: ${JSON.stringify(want[key])} given, the run has ${JSON.stringify(run[key])}${hint}`,
    );
  }
  if (conflicts.length) {
    throw new TrainError(
      `--resume: these options differ from the run in ${dir} and cannot change when resuming:\n` +
        `  ${conflicts.join('\n  ')}\n` +
        'Drop them to continue the run as it was, or start a new run (another --run-dir, or --overwrite).',
    );
  }
  const epochs = args.given.has('epochs') ? want.epochs : run.epochs;
  // The epoch in progress counts as started: it cannot be cut off.
  const least = st.step > 0 ? st.epoch + 1 : st.epoch;
  if (epochs < least) {
    throw new TrainError(
      `--epochs ${epochs}: the run in ${dir} has already reached ${describePosition(st)}; ` +
        `give --epochs ${least} or more.`,
    );
  }
  const cfg: TrainConfig = {
    ...run,
    ...(want.reschedule
      ? { lr: want.lr, schedule: want.schedule, warmup: want.warmup, milestones: want.milestones }
      : {}),
    epochs,
    scheduleEpochs: want.reschedule ? epochs : run.scheduleEpochs,
    runDir: dir,
    resume: true,
    overwrite: false,
    reschedule: want.reschedule,
    timeBudget: want.timeBudget,
    stopAfterSteps: want.stopAfterSteps,
    logEvery: want.logEvery,
    quiet: want.quiet,
    capture: want.capture,
    dataDir: want.dataDir ?? run.dataDir,
  };
  const notes: string[] = [];
  if (epochs !== run.epochs) notes.push(`--epochs: the run now has ${epochs} epochs (it had ${run.epochs}).`);
  if (want.reschedule)
    notes.push(
      `--reschedule: the ${cfg.schedule} schedule (peak lr ${cfg.lr}) now spans ${epochs} epochs; ` +
        `it continues from global step ${st.globalStep}.`,
    );
  // A recorded data folder that has gone is no error: any verified copy of CIFAR-10 is the same data.
  if (!want.dataDir && run.dataDir && !existsSync(run.dataDir)) {
    notes.push(
      `the data folder recorded in the run (${run.dataDir}) no longer exists; ` +
        'looking for CIFAR-10 as without --data-dir (CIFAR10_DIR, the cache, a download); pass --data-dir to choose.',
    );
    cfg.dataDir = undefined;
  }
  return { cfg, notes };
}
