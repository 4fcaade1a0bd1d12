// The run-folder and resume rules, without a GPU: option parsing in both forms, refusing a
// folder that holds a run, --overwrite, what --resume may change, and a finished run.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainArgs, type TrainArgs, type TrainConfig } from './config.js';
import { saveCheckpoint } from './checkpoint.js';
import { CHECKPOINT_FILE, planResume, prepareNewRunDir, resumeConfig, type TrainerState } from './run-dir.js';
import { finalLr } from './trainer.js';

const tmp = mkdtempSync(join(tmpdir(), 'wgtorch-rundir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const parse = (argv: string[]) => parseTrainArgs(argv) as TrainArgs;

/** A trainer state at `epoch`/`step` of a run started with `argv`. */
function stateOf(argv: string[], epoch: number, step = 0): TrainerState {
  const { config } = parse(argv);
  const history = Array.from({ length: epoch }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 1,
    trainAcc: 0.5,
    testLoss: 1,
    testAcc: 0.4 + i / 100,
    lr: 0.1,
    imagesPerSec: 1,
    elapsedSec: 1,
    steps: 4,
  }));
  return {
    version: 1,
    config,
    epoch,
    step,
    globalStep: epoch * 4 + step,
    elapsedSec: 1,
    history,
    partial: { lossSum: 0, correct: 0, images: 0, trainSec: 0 },
  };
}

/** A run folder with a checkpoint (one tiny tensor: planning never loads weights into a model). */
function runDir(name: string, state: TrainerState): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  saveCheckpoint(join(dir, CHECKPOINT_FILE), {
    model: { w: { shape: [1], data: new Float32Array(1) } },
    optimizer: {},
    state: { ...state, config: { ...state.config, runDir: dir } },
  });
  writeFileSync(join(dir, 'config.json'), '{}');
  return dir;
}

describe('train options', () => {
  it('take --flag value and --flag=value alike, and record which were given', () => {
    const a = parse([
      '--epochs',
      '3',
      '--lr',
      '0.05',
      '--run-dir',
      'X',
      '--batch-size',
      '16',
      '--schedule',
      'cosine',
      '--data-dir',
      'D',
      '--resume',
    ]);
    const b = parse([
      '--epochs=3',
      '--lr=0.05',
      '--run-dir=X',
      '--batch-size=16',
      '--schedule=cosine',
      '--data-dir=D',
      '--resume',
    ]);
    for (const p of [a, b]) {
      expect(p.config).toMatchObject({
        epochs: 3,
        lr: 0.05,
        runDir: 'X',
        batchSize: 16,
        schedule: 'cosine',
        dataDir: 'D',
        resume: true,
        scheduleEpochs: 3,
      });
      expect([...p.given].sort()).toEqual(['batchSize', 'dataDir', 'epochs', 'lr', 'resume', 'runDir', 'schedule']);
    }
    expect(parse(['--milestones=0.3,0.6']).config.milestones).toEqual([0.3, 0.6]);
    expect(parse([]).given.size).toBe(0);
    expect(parse([]).config.runDir).toMatch(/^runs\//);
  });

  it('refuse contradictions and bad values with the flag named', () => {
    expect(() => parse(['--resume', '--overwrite'])).toThrow(/--overwrite and --resume/);
    expect(() => parse(['--reschedule'])).toThrow(/--reschedule applies to a resumed run/);
    expect(() => parse(['--epochs='])).toThrow(/--epochs: '' is not a valid value/);
    expect(() => parse(['--run-dir'])).toThrow(/--run-dir.*See pnpm train --help/);
    expect(() => parse(['--bogus'])).toThrow(/--bogus.*See pnpm train --help/);
  });
});

describe('a new run', () => {
  it('refuses a folder that holds a run, naming --resume and --overwrite', () => {
    const dir = runDir('taken', stateOf(['--epochs', '2'], 1));
    writeFileSync(join(dir, 'metrics.jsonl'), '{}\n');
    expect(() => prepareNewRunDir(parse(['--run-dir', dir]).config)).toThrow(
      new RegExp(
        `${dir} already holds a run \\(config.json, checkpoint.safetensors, metrics.jsonl\\)\\. ` +
          `Continue it with --resume --run-dir ${dir}, start it over with --overwrite`,
      ),
    );
    // config.json alone is a run too (one that never saved a checkpoint)
    const started = join(tmp, 'started');
    mkdirSync(started);
    writeFileSync(join(started, 'config.json'), '{}');
    expect(() => prepareNewRunDir(parse([`--run-dir=${started}`]).config)).toThrow(
      /already holds a run \(config\.json\)/,
    );
  });

  it("--overwrite removes the old run files (and writers' temporary files), nothing else", () => {
    const dir = runDir('over', stateOf(['--epochs', '2'], 1));
    for (const f of ['metrics.jsonl', 'curves.svg', 'best.json', '.checkpoint.safetensors.123.tmp', 'notes.txt'])
      writeFileSync(join(dir, f), 'x');
    prepareNewRunDir(parse(['--run-dir', dir, '--overwrite']).config);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('an empty or missing folder is fine', () => {
    expect(() => prepareNewRunDir(parse(['--run-dir', join(tmp, 'nothing-here')]).config)).not.toThrow();
  });
});

describe('--resume', () => {
  it('resumes the --run-dir given in either form (not the newest run under runs/)', () => {
    const dir = runDir('either', stateOf(['--epochs', '3'], 1));
    for (const argv of [
      ['--resume', '--run-dir', dir],
      [`--run-dir=${dir}`, '--resume'],
    ]) {
      const plan = planResume(parse(argv));
      expect('finished' in plan).toBe(false);
      if (!('finished' in plan)) expect(plan.cfg.runDir).toBe(dir);
    }
  });

  it('explains a folder without a checkpoint', () => {
    expect(() => planResume(parse(['--resume', '--run-dir', join(tmp, 'none')]))).toThrow(
      /--resume: no checkpoint at .*none\/checkpoint\.safetensors; start without --resume/,
    );
    const started = join(tmp, 'never-saved');
    mkdirSync(started);
    writeFileSync(join(started, 'config.json'), '{}');
    expect(() => planResume(parse(['--resume', '--run-dir', started]))).toThrow(
      new RegExp(
        'holds a run \\(config\\.json\\) that never saved a checkpoint, so there is nothing to resume; ' +
          'start it over with --overwrite',
      ),
    );
  });

  it("keeps the run's settings and takes this session's options", () => {
    const st = stateOf(
      ['--epochs', '4', '--batch-size', '16', '--lr', '0.1', '--seed', '3', '--data-dir', tmp, '--log-every', '7'],
      1,
      2,
    );
    const { cfg, notes } = resumeConfig(
      parse(['--resume', '--time-budget=60', '--stop-after-steps', '5', '--quiet', '--log-every=2']),
      st,
      'R',
    );
    expect(cfg).toMatchObject({
      epochs: 4,
      scheduleEpochs: 4,
      batchSize: 16,
      lr: 0.1,
      seed: 3,
      dataDir: tmp,
      runDir: 'R',
      timeBudget: 60,
      stopAfterSteps: 5,
      quiet: true,
      logEvery: 2,
      resume: true,
    });
    expect(notes).toEqual([]);
    // the same value as the run's is no conflict
    expect(() => resumeConfig(parse(['--resume', '--batch-size', '16', '--lr=0.1']), st, 'R')).not.toThrow();
  });

  it('refuses options that cannot change, listing every one', () => {
    const st = stateOf(['--epochs', '4', '--batch-size', '16'], 1);
    const err = (() => {
      try {
        resumeConfig(
          parse(['--resume', '--batch-size', '32', '--lr=0.5', '--no-nesterov', '--seed', '9', '--schedule', 'cosine']),
          st,
          'R',
        );
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toMatch(/--resume: these options differ from the run in R and cannot change when resuming:/);
    expect(err).toMatch(/--batch-size: 32 given, the run has 16\n/);
    expect(err).toMatch(/--lr: 0\.5 given, the run has 0\.2 \(may change with --reschedule\)/);
    expect(err).toMatch(/--no-nesterov: false given, the run has true/);
    expect(err).toMatch(/--seed: 9 given, the run has 0/);
    expect(err).toMatch(/--schedule: "cosine" given, the run has "onecycle" \(may change with --reschedule\)/);
  });

  it('--epochs extends the run over the original schedule; --reschedule redefines it', () => {
    const st = stateOf(['--epochs', '2', '--lr', '0.1'], 2);
    const more = resumeConfig(parse(['--resume', '--epochs=5']), st, 'R');
    expect(more.cfg).toMatchObject({ epochs: 5, scheduleEpochs: 2, lr: 0.1 });
    expect(more.notes).toEqual(['--epochs: the run now has 5 epochs (it had 2).']);
    const re = resumeConfig(
      parse(['--resume', '--epochs', '5', '--reschedule', '--lr', '0.05', '--schedule', 'cosine']),
      st,
      'R',
    );
    expect(re.cfg).toMatchObject({ epochs: 5, scheduleEpochs: 5, lr: 0.05, schedule: 'cosine' });
    expect(re.notes[1]).toMatch(
      /--reschedule: the cosine schedule \(peak lr 0\.05\) now spans 5 epochs; it continues from global step 8/,
    );
    // fewer epochs than trained, or than the epoch in progress: refused
    expect(() => resumeConfig(parse(['--resume', '--epochs', '1']), st, 'R')).toThrow(
      /--epochs 1: the run in R has already reached epoch 2 \(global step 8\); give --epochs 2 or more/,
    );
    expect(() => resumeConfig(parse(['--resume', '--epochs', '2']), stateOf(['--epochs', '4'], 2, 1), 'R')).toThrow(
      /has already reached epoch 3, step 1 .*give --epochs 3 or more/,
    );
  });

  it("the schedules' final lr: what extra epochs past the schedule would train at", () => {
    const cfg = (argv: string[]): TrainConfig => parse(argv).config;
    expect(finalLr(cfg(['--lr', '0.2']))).toBeCloseTo(0.0002, 12);
    expect(finalLr(cfg(['--lr', '0.2', '--schedule', 'multistep']))).toBeCloseTo(0.002, 12);
    expect(finalLr(cfg(['--lr', '0.2', '--schedule', 'cosine']))).toBe(0);
    expect(finalLr(cfg(['--lr', '0.2', '--schedule', 'linear']))).toBe(0);
    expect(finalLr(cfg(['--lr', '0.2', '--schedule', 'constant']))).toBe(0.2);
  });

  it('a finished run says so', () => {
    const dir = runDir('finished', stateOf(['--epochs', '2'], 2));
    const plan = planResume(parse(['--resume', '--run-dir', dir]));
    expect(plan).toEqual({
      finished:
        `${dir}: the run is finished (2 of 2 epochs; final test accuracy 41.00%, best 41.00% (epoch 2); ` +
        'checkpoint at epoch 2 (global step 8)). Nothing to train; ' +
        'to train further, resume with --epochs N (N > 2).',
    });
    expect('finished' in planResume(parse(['--resume', '--run-dir', dir, '--epochs', '3']))).toBe(false);
  });

  it('a data folder recorded in the run that has gone is looked for elsewhere, and said so', () => {
    const gone = join(tmp, 'moved-data');
    const { cfg, notes } = resumeConfig(parse(['--resume']), stateOf(['--epochs', '2', '--data-dir', gone], 1), 'R');
    expect(cfg.dataDir).toBeUndefined();
    expect(notes).toEqual([
      `the data folder recorded in the run (${gone}) no longer exists; looking for CIFAR-10 as without --data-dir ` +
        '(CIFAR10_DIR, the cache, a download); pass --data-dir to choose.',
    ]);
    expect(existsSync(gone)).toBe(false);
  });
});
