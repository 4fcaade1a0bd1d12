// The trainer's configuration: defaults are the recipe of ../shared/reference (88.81% after
// 15 epochs with PyTorch on this machine): SGD with Nesterov momentum 0.9, weight decay 5e-4
// on conv and linear weights only, batch 128, one-cycle LR (0.02 -> 0.2 over the first 25% of
// steps, then linearly to 0.0002), crop+flip augmentation, plain cross-entropy.

import { parseArgs } from 'node:util';

/**
 * A problem the user can act on (a refused flag, a run folder in the way, a failed write): the CLI
 * prints its message without a stack.
 */
export class TrainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainError';
  }
}

export type ScheduleName = 'onecycle' | 'cosine' | 'multistep' | 'linear' | 'constant';
export type ShortcutType = 'B' | 'A';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  schedule: ScheduleName;
  /** Fraction of all steps spent warming up (onecycle, cosine). */
  warmup: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Weight decay on BatchNorm parameters and biases too (PyTorch's default SGD does). */
  decayAll: boolean;
  labelSmoothing: number;
  seed: number;
  dataDir: string | undefined;
  runDir: string;
  /** Stop (saving a checkpoint) after this many seconds; 0 = no limit. */
  timeBudget: number;
  shortcut: ShortcutType;
  resume: boolean;
  /** Limit of training steps per epoch (0 = the whole epoch); for quick runs. */
  stepsPerEpoch: number;
  /** Evaluate on the first N test images only (0 = all 10,000). */
  testSubset: number;
  /** Batches between progress updates (each needs one small readback). */
  logEvery: number;
  /** Multistep milestones as fractions of training (paper: 50% and 75%). */
  milestones: number[];
  quiet: boolean;
  /** Stop cleanly (with a checkpoint) after this many steps in this session; 0 = never. For tests of resuming. */
  stopAfterSteps: number;
  /** Remove an existing run's files from runDir before starting (without it, an existing run is refused). */
  overwrite: boolean;
  /** With --resume: redefine the LR schedule over the (new) total number of epochs. */
  reschedule: boolean;
  /** Epochs the LR schedule spans: --epochs at the start; changed on resume only by --reschedule. */
  scheduleEpochs: number;
  /** Record a step's GPU work once and replay it (CapturedSteps); false records every step anew. */
  capture: boolean;
}

export const DEFAULTS: TrainConfig = {
  epochs: 15,
  batchSize: 128,
  lr: 0.2,
  schedule: 'onecycle',
  warmup: 0.25,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  decayAll: false,
  labelSmoothing: 0,
  seed: 0,
  dataDir: undefined,
  runDir: '',
  timeBudget: 0,
  shortcut: 'B',
  resume: false,
  stepsPerEpoch: 0,
  testSubset: 0,
  logEvery: 10,
  milestones: [0.5, 0.75],
  quiet: false,
  stopAfterSteps: 0,
  overwrite: false,
  reschedule: false,
  scheduleEpochs: 15,
  capture: true,
};

export const TRAIN_HELP = `pnpm train [options]   Train ResNet20 on CIFAR-10 through the WGSL kernels.

  --epochs N             epochs (default ${DEFAULTS.epochs})
  --batch-size N         batch size (default ${DEFAULTS.batchSize})
  --lr X                 peak learning rate (default ${DEFAULTS.lr})
  --schedule S           onecycle | cosine | multistep | linear | constant (default ${DEFAULTS.schedule})
  --warmup F             warm-up fraction of all steps for onecycle/cosine (default ${DEFAULTS.warmup})
  --milestones A,B       multistep milestones as fractions of training (default 0.5,0.75; LR x0.1 at each)
  --momentum X           SGD momentum (default ${DEFAULTS.momentum})
  --no-nesterov          plain momentum instead of Nesterov
  --weight-decay X       weight decay on conv/linear weights (default ${DEFAULTS.weightDecay})
  --decay-all            also decay BatchNorm parameters and biases
  --label-smoothing X    cross-entropy label smoothing (default 0)
  --seed N               seed for init, data order and augmentation (default 0)
  --data-dir DIR         CIFAR-10 binary folder (else CIFAR10_DIR, the cache, or a download)
  --run-dir DIR          where metrics, plots and checkpoints go (default runs/<timestamp>)
  --time-budget SEC      stop cleanly (with a checkpoint) after this many seconds
  --shortcut B|A         B: 1x1 conv + BN projection (default, 272,474 params); A: parameter-free
  --resume               continue the run in --run-dir (default: the newest under runs/) from its checkpoint
  --overwrite            start over in a --run-dir that holds a run: its files are removed first
  --reschedule           with --resume: redefine the LR schedule over the new --epochs (and let
                         --lr, --schedule, --warmup, --milestones change); without it the schedule
                         stays defined over the run's original epochs
  --steps-per-epoch N    cap training steps per epoch (quick runs)
  --test-subset N        evaluate on the first N test images
  --log-every N          batches between progress-bar updates (default ${DEFAULTS.logEvery})
  --quiet                no progress bar
  --stop-after-steps N   stop with a checkpoint after N steps of this session (for testing --resume)
  --no-capture           record every step's GPU work anew instead of replaying a captured step
                         (the same updates, bit for bit; more CPU time per step)

Every option takes its value as --flag value or --flag=value. A --run-dir that holds a run is
refused unless --resume (continue it) or --overwrite (start over). When resuming, --epochs may
change (the run is extended or shortened); --data-dir, --time-budget, --stop-after-steps,
--log-every, --quiet and --no-capture apply to this session; --lr, --schedule, --warmup and --milestones need
--reschedule; every other option must match the run or is refused.
`;

/** The command-line flag that sets each configuration field (for messages). */
export const FLAG_OF: Record<keyof TrainConfig, string> = {
  epochs: '--epochs',
  batchSize: '--batch-size',
  lr: '--lr',
  schedule: '--schedule',
  warmup: '--warmup',
  milestones: '--milestones',
  momentum: '--momentum',
  nesterov: '--no-nesterov',
  weightDecay: '--weight-decay',
  decayAll: '--decay-all',
  labelSmoothing: '--label-smoothing',
  seed: '--seed',
  dataDir: '--data-dir',
  runDir: '--run-dir',
  timeBudget: '--time-budget',
  shortcut: '--shortcut',
  resume: '--resume',
  stepsPerEpoch: '--steps-per-epoch',
  testSubset: '--test-subset',
  logEvery: '--log-every',
  quiet: '--quiet',
  stopAfterSteps: '--stop-after-steps',
  overwrite: '--overwrite',
  reschedule: '--reschedule',
  scheduleEpochs: '--epochs',
  capture: '--no-capture',
};

/** A parsed command line: the configuration and the fields the user set explicitly. */
export interface TrainArgs {
  config: TrainConfig;
  given: Set<keyof TrainConfig>;
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      schedule: { type: 'string' },
      warmup: { type: 'string' },
      milestones: { type: 'string' },
      momentum: { type: 'string' },
      'no-nesterov': { type: 'boolean' },
      nesterov: { type: 'boolean' },
      'weight-decay': { type: 'string' },
      'decay-all': { type: 'boolean' },
      'label-smoothing': { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      'run-dir': { type: 'string' },
      'time-budget': { type: 'string' },
      shortcut: { type: 'string' },
      resume: { type: 'boolean' },
      overwrite: { type: 'boolean' },
      reschedule: { type: 'boolean' },
      'steps-per-epoch': { type: 'string' },
      'test-subset': { type: 'string' },
      'log-every': { type: 'string' },
      quiet: { type: 'boolean' },
      'stop-after-steps': { type: 'string' },
      'no-capture': { type: 'boolean' },
    },
  });
}

/** Parses `pnpm train` options (each as `--flag value` or `--flag=value`); throws on a bad value. */
export function parseTrainArgs(argv: string[]): TrainArgs | 'help' {
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    throw new TrainError(`${(e as Error).message} See pnpm train --help.`, { cause: e });
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const num = (
    name: string,
    v: string | undefined,
    def: number,
    check: (x: number) => boolean = () => true,
  ): number => {
    if (v === undefined) return def;
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || !check(x))
      throw new TrainError(`--${name}: '${v}' is not a valid value. See pnpm train --help.`);
    return x;
  };
  const int = (x: number) => Number.isInteger(x);
  const schedule = (values.schedule ?? DEFAULTS.schedule) as ScheduleName;
  if (!['onecycle', 'cosine', 'multistep', 'linear', 'constant'].includes(schedule)) {
    throw new TrainError(`--schedule: '${schedule}' is not one of onecycle, cosine, multistep, linear, constant.`);
  }
  const shortcut = (values.shortcut ?? 'B').toUpperCase() as ShortcutType;
  if (shortcut !== 'A' && shortcut !== 'B') throw new TrainError(`--shortcut: '${values.shortcut}' is not A or B.`);
  if (values.nesterov && values['no-nesterov']) throw new TrainError('--nesterov and --no-nesterov: give one of them.');
  if (values.overwrite && values.resume)
    throw new TrainError(
      '--overwrite and --resume: give one of them (--overwrite starts the run over, --resume continues it).',
    );
  if (values.reschedule && !values.resume)
    throw new TrainError(
      '--reschedule applies to a resumed run: add --resume (a new run is always scheduled over its --epochs).',
    );
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const epochs = num('epochs', values.epochs, DEFAULTS.epochs, (x) => int(x) && x > 0);
  const config: TrainConfig = {
    epochs,
    batchSize: num('batch-size', values['batch-size'], DEFAULTS.batchSize, (x) => int(x) && x > 0),
    lr: num('lr', values.lr, DEFAULTS.lr, (x) => x > 0),
    schedule,
    warmup: num('warmup', values.warmup, DEFAULTS.warmup, (x) => x >= 0 && x < 1),
    milestones:
      values.milestones !== undefined
        ? values.milestones.split(',').map((s) => num('milestones', s, 0, (x) => x > 0 && x < 1))
        : DEFAULTS.milestones,
    momentum: num('momentum', values.momentum, DEFAULTS.momentum, (x) => x >= 0 && x < 1),
    nesterov: values['no-nesterov'] ? false : DEFAULTS.nesterov,
    weightDecay: num('weight-decay', values['weight-decay'], DEFAULTS.weightDecay, (x) => x >= 0),
    decayAll: values['decay-all'] ?? false,
    labelSmoothing: num('label-smoothing', values['label-smoothing'], 0, (x) => x >= 0 && x < 1),
    seed: num('seed', values.seed, 0, int),
    dataDir: values['data-dir'],
    runDir: values['run-dir'] ?? `runs/${stamp}`,
    timeBudget: num('time-budget', values['time-budget'], 0, (x) => x >= 0),
    shortcut,
    resume: values.resume ?? false,
    stepsPerEpoch: num('steps-per-epoch', values['steps-per-epoch'], 0, (x) => int(x) && x >= 0),
    testSubset: num('test-subset', values['test-subset'], 0, (x) => int(x) && x >= 0),
    logEvery: num('log-every', values['log-every'], DEFAULTS.logEvery, (x) => int(x) && x > 0),
    quiet: values.quiet ?? false,
    stopAfterSteps: num('stop-after-steps', values['stop-after-steps'], 0, (x) => int(x) && x >= 0),
    overwrite: values.overwrite ?? false,
    reschedule: values.reschedule ?? false,
    scheduleEpochs: epochs,
    capture: !values['no-capture'],
  };
  // The fields given on the command line, whatever form (--flag value, --flag=value) they took.
  const given = new Set<keyof TrainConfig>();
  for (const [key, flag] of Object.entries(FLAG_OF) as [keyof TrainConfig, string][]) {
    if (key !== 'scheduleEpochs' && values[flag.slice(2) as keyof typeof values] !== undefined) given.add(key);
  }
  if (values.nesterov !== undefined) given.add('nesterov');
  return { config, given };
}
