// The trainer's configuration: defaults are the recipe of ../shared/reference (88.81% after
// 15 epochs with PyTorch on this machine): SGD with Nesterov momentum 0.9, weight decay 5e-4
// on conv and linear weights only, batch 128, one-cycle LR (0.02 -> 0.2 over the first 25% of
// steps, then linearly to 0.0002), crop+flip augmentation, plain cross-entropy.

import { parseArgs } from 'node:util';

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
  --resume               continue from <run-dir>/checkpoint.safetensors
  --steps-per-epoch N    cap training steps per epoch (quick runs)
  --test-subset N        evaluate on the first N test images
  --log-every N          batches between progress-bar updates (default ${DEFAULTS.logEvery})
  --quiet                no progress bar
  --stop-after-steps N   stop with a checkpoint after N steps of this session (for testing --resume)
`;

export function parseTrainArgs(argv: string[]): TrainConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
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
      'steps-per-epoch': { type: 'string' },
      'test-subset': { type: 'string' },
      'log-every': { type: 'string' },
      quiet: { type: 'boolean' },
      'stop-after-steps': { type: 'string' },
    },
  });
  if (values.help) return 'help';
  const num = (name: string, v: string | undefined, def: number, check: (x: number) => boolean = () => true): number => {
    if (v === undefined) return def;
    const x = Number(v);
    if (!Number.isFinite(x) || !check(x)) throw new Error(`--${name}: '${v}' is not a valid value. See pnpm train --help.`);
    return x;
  };
  const int = (x: number) => Number.isInteger(x);
  const schedule = (values.schedule ?? DEFAULTS.schedule) as ScheduleName;
  if (!['onecycle', 'cosine', 'multistep', 'linear', 'constant'].includes(schedule)) {
    throw new Error(`--schedule: '${schedule}' is not one of onecycle, cosine, multistep, linear, constant.`);
  }
  const shortcut = (values.shortcut ?? 'B').toUpperCase() as ShortcutType;
  if (shortcut !== 'A' && shortcut !== 'B') throw new Error(`--shortcut: '${values.shortcut}' is not A or B.`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    epochs: num('epochs', values.epochs, DEFAULTS.epochs, (x) => int(x) && x > 0),
    batchSize: num('batch-size', values['batch-size'], DEFAULTS.batchSize, (x) => int(x) && x > 0),
    lr: num('lr', values.lr, DEFAULTS.lr, (x) => x > 0),
    schedule,
    warmup: num('warmup', values.warmup, DEFAULTS.warmup, (x) => x >= 0 && x < 1),
    milestones: values.milestones ? values.milestones.split(',').map((s) => num('milestones', s, 0, (x) => x > 0 && x < 1)) : DEFAULTS.milestones,
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
  };
}
