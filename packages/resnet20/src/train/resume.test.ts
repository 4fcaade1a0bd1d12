// The trainer's reliability on real CIFAR-10, with tiny runs: --run-dir=DIR --resume, more
// epochs and --reschedule, a NaN loss with and without a step limit, non-finite weights,
// damaged momentum buffers, a recorded data folder that has gone, a failed write, a full
// disk (a small tmpfs) and SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { SGD } from '@wgtorch/autograd';
import { realCifarDir } from '../data/testing.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { parseTrainArgs, type TrainArgs } from './config.js';
import { CHECKPOINT_FILE, makeSchedule, trainMain, type TrainerState } from './trainer.js';
import type { EpochMetrics } from './report.js';

const repo = resolve(import.meta.dirname, '../../../..');
const dataDir = realCifarDir();
const tmp = mkdtempSync(join(tmpdir(), 'wgtorch-resume-'));
const TINY = ['--steps-per-epoch', '2', '--batch-size', '8', '--test-subset', '64'];

interface Result {
  code: number;
  out: string;
  err: string;
}

/** trainMain in this process, its output captured; `data: false` leaves --data-dir out. */
async function train(args: string[], opts: { data?: boolean } = {}): Promise<Result> {
  const [log, error] = [console.log, console.error];
  const out: string[] = [];
  const err: string[] = [];
  console.log = (m: unknown) => out.push(String(m));
  console.error = (m: unknown) => err.push(String(m));
  try {
    const code = await trainMain([...args, ...(opts.data === false ? [] : ['--data-dir', dataDir!]), '--quiet']);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

const metrics = (dir: string): EpochMetrics[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);
const ckpt = (dir: string) => loadCheckpoint<TrainerState>(join(dir, CHECKPOINT_FILE));
const cli = (args: string[]) =>
  spawn(process.execPath, [join(repo, 'scripts/run-ts.mjs'), 'packages/resnet20/src/cli.ts', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => {
  runtime().destroy();
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!dataDir)('resuming', () => {
  it('--run-dir=DIR --resume resumes DIR', async () => {
    const dir = join(tmp, 'eq-form');
    expect((await train([...TINY, '--epochs', '2', `--run-dir=${dir}`, '--stop-after-steps=3'])).code).toBe(0);
    expect(ckpt(dir).state).toMatchObject({ epoch: 1, step: 1, globalStep: 3 });
    const r = await train([`--run-dir=${dir}`, '--resume']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      new RegExp(`resumed from ${dir}/checkpoint\\.safetensors at epoch 2, step 1 \\(global step 3\\)`),
    );
    expect(ckpt(dir).state).toMatchObject({ epoch: 2, step: 0, globalStep: 4 });
    expect(metrics(dir).map((m) => m.epoch)).toEqual([1, 2]);
  }, 120_000);

  it(
    'a finished run says so; ' +
      '--epochs extends it over the original schedule; ' +
      '--reschedule redefines the schedule',
    async () => {
      const a = join(tmp, 'extend');
      expect((await train([...TINY, '--epochs', '2', '--run-dir', a])).code).toBe(0);
      const finished = await train(['--resume', '--run-dir', a]);
      expect(finished.code).toBe(0);
      expect(finished.out).toMatch(
        new RegExp(
          'the run is finished \\(2 of 2 epochs; .*\\)\\. Nothing to train; ' +
            'to train further, resume with --epochs N \\(N > 2\\)\\.',
        ),
      );
      expect(finished.out).not.toMatch(/Epoch \|/);
      const b = join(tmp, 'reschedule');
      cpSync(a, b, { recursive: true });

      // past the schedule: epoch 3 trains at its final lr
      const more = await train(['--resume', '--run-dir', a, '--epochs=3']);
      expect(more.code, more.err).toBe(0);
      expect(more.out).toMatch(
        new RegExp(
          'note: --epochs 3 runs past the onecycle schedule, ' +
            'which ends with epoch 2 at lr 0\\.0002; epoch 3 keeps that lr',
        ),
      );
      expect(metrics(a).map((m) => m.epoch)).toEqual([1, 2, 3]);
      expect(metrics(a)[2].lr).toBeCloseTo(0.0002, 12);

      // --reschedule: the one-cycle schedule now spans 4 epochs x 2 steps, read at global step 6
      const re = await train(['--resume', '--run-dir', b, '--epochs', '4', '--reschedule', '--stop-after-steps', '2']);
      expect(re.code, re.err).toBe(0);
      const cfg = (parseTrainArgs(['--epochs', '4']) as TrainArgs).config;
      const want = makeSchedule(cfg, new SGD([], { lr: cfg.lr }), 8).lrAt(6, cfg.lr);
      expect(metrics(b)[2].lr).toBeCloseTo(want, 9);
      expect(want).toBeGreaterThan(0.01);
      expect(ckpt(b).state.config).toMatchObject({ epochs: 4, scheduleEpochs: 4 });
    },
    120_000,
  );

  it(
    'a data folder recorded in the run that has gone is looked for elsewhere, ' + 'not reported as --data-dir',
    async () => {
      const dir = join(tmp, 'moved');
      const link = join(tmp, 'data-link');
      symlinkSync(dataDir!, link);
      expect(
        (
          await train([...TINY, '--epochs', '2', '--run-dir', dir, '--data-dir', link, '--stop-after-steps', '1'], {
            data: false,
          })
        ).code,
      ).toBe(0);
      rmSync(link);
      const env = process.env.CIFAR10_DIR;
      process.env.CIFAR10_DIR = dataDir;
      try {
        const r = await train(['--resume', '--run-dir', dir], { data: false });
        expect(r.code, r.err).toBe(0);
        expect(r.out).toMatch(
          new RegExp(
            'note: the data folder recorded in the run \\(.*data-link\\) no longer exists; ' +
              'looking for CIFAR-10 as without --data-dir',
          ),
        );
      } finally {
        if (env === undefined) delete process.env.CIFAR10_DIR;
        else process.env.CIFAR10_DIR = env;
      }
    },
    120_000,
  );
});

describe.skipIf(!dataDir)('a NaN loss', () => {
  // lr 1e6 makes the loss NaN at the third step.
  const NAN = [
    '--lr',
    '1e6',
    '--schedule',
    'constant',
    '--steps-per-epoch',
    '6',
    '--batch-size',
    '8',
    '--test-subset',
    '64',
    '--epochs',
    '1',
  ];

  it('exits 3 with a step limit too, and says that no checkpoint was ever saved', async () => {
    for (const [name, extra] of [
      ['nan-limit', ['--stop-after-steps', '4', '--log-every', '10']],
      ['nan-plain', ['--log-every', '1']],
    ] as const) {
      const dir = join(tmp, name);
      const r = await train([...NAN, ...extra, '--run-dir', dir]);
      expect(r.code, r.out).toBe(3);
      expect(r.err).toMatch(
        new RegExp(
          `stopped: the training loss became NaN at epoch 1, step \\d.*; no checkpoint was saved ` +
            `\\(${dir}/checkpoint\\.safetensors does not exist\\), so there is nothing to resume`,
        ),
      );
      expect(r.err + r.out).not.toMatch(/continue with|is kept/);
      expect(() => ckpt(dir)).toThrow(/No checkpoint at/);
    }
  }, 120_000);

  it('after a checkpoint: exits 3, names what the kept checkpoint holds, and leaves it as it was', async () => {
    const dir = join(tmp, 'nan-after');
    expect(
      (await train([...TINY, '--steps-per-epoch', '4', '--epochs', '2', '--run-dir', dir, '--stop-after-steps', '4']))
        .code,
    ).toBe(0);
    const before = readFileSync(join(dir, CHECKPOINT_FILE));
    // a lower lr is the advice; a much higher one is the test
    const r = await train([
      '--resume',
      '--run-dir',
      dir,
      '--reschedule',
      '--lr',
      '1e6',
      '--schedule',
      'constant',
      '--stop-after-steps',
      '3',
      '--log-every',
      '10',
    ]);
    expect(r.code, r.out).toBe(3);
    expect(r.err).toMatch(
      new RegExp(
        `the training loss became NaN at epoch 2, step 3; the last good checkpoint ` +
          `\\(${dir}/checkpoint\\.safetensors, at epoch 1 \\(global step 4\\)\\) is kept\\. .* ` +
          'The loss is read back every 10 steps \\(--log-every\\): ' +
          'it may have become NaN up to 2 steps earlier\\.$',
      ),
    );
    expect(r.err).not.toMatch(/continue with/);
    expect(readFileSync(join(dir, CHECKPOINT_FILE)).equals(before)).toBe(true);
  }, 120_000);

  it('non-finite weights with a finite loss are never saved', async () => {
    const dir = join(tmp, 'inf-momentum');
    expect((await train([...TINY, '--epochs', '2', '--run-dir', dir, '--stop-after-steps', '2'])).code).toBe(0);
    // an infinite momentum value: the next update makes its parameter infinite, the loss of that step is still finite
    const path = join(dir, CHECKPOINT_FILE);
    const ck = ckpt(dir);
    const key = Object.keys(ck.optimizer)[0];
    ck.optimizer[key].data[0] = Infinity;
    saveCheckpoint(path, ck);
    const before = readFileSync(path);
    const r = await train(['--resume', '--run-dir', dir, '--stop-after-steps', '1']);
    expect(r.code, r.out).toBe(3);
    expect(r.err).toMatch(
      new RegExp(
        `stopped: the weights became non-finite ` +
          `\\(${key.replace(/^momentum\./, '').replace(/\./g, '\\.')} holds -?Infinity\\) ` +
          'by epoch 2, step 1 \\(global step 3\\); the last good checkpoint',
      ),
    );
    expect(readFileSync(path).equals(before)).toBe(true);
  }, 120_000);
});

describe.skipIf(!dataDir)('damaged checkpoints and failed writes', () => {
  it('refuses a missing or reshaped momentum buffer, naming the parameter and the shapes', async () => {
    const dir = join(tmp, 'momentum');
    expect((await train([...TINY, '--epochs', '2', '--run-dir', dir, '--stop-after-steps', '1'])).code).toBe(0);
    const path = join(dir, CHECKPOINT_FILE);
    const good = ckpt(dir);
    const name = 'momentum.layer1.0.conv1.weight';
    expect(good.optimizer[name].shape).toEqual([16, 16, 3, 3]);

    const { [name]: _dropped, ...rest } = good.optimizer;
    saveCheckpoint(path, { ...good, optimizer: rest });
    await expect(train(['--resume', '--run-dir', dir])).rejects.toThrow(
      `${path}: the momentum buffer of 'layer1.0.conv1.weight' [16, 16, 3, 3] is missing ` +
        '(the run uses momentum 0.9 and has trained 1 step)',
    );
    saveCheckpoint(path, {
      ...good,
      optimizer: { ...good.optimizer, [name]: { shape: [16, 144], data: good.optimizer[name].data } },
    });
    await expect(train(['--resume', '--run-dir', dir])).rejects.toThrow(
      `${path}: the momentum buffer of 'layer1.0.conv1.weight' has shape [16, 144], the parameter [16, 16, 3, 3]`,
    );
  }, 120_000);

  it("a write that fails names the file and the system's message, and what the checkpoint holds", async () => {
    const dir = join(tmp, 'blocked');
    expect((await train([...TINY, '--epochs', '2', '--run-dir', dir, '--stop-after-steps', '3'])).code).toBe(0);
    // a folder where curves.svg goes
    rmSync(join(dir, 'curves.svg'));
    mkdirSync(join(dir, 'curves.svg'));
    await expect(train(['--resume', '--run-dir', dir])).rejects.toThrow(
      new RegExp(
        `write ${dir}/curves\\.svg: .*\\n` +
          `The checkpoint is saved: ${dir}/checkpoint\\.safetensors holds the run ` +
          'at epoch 2, step 1 \\(global step 3\\)\\. Once the cause is fixed, continue with: ' +
          `pnpm train --resume --run-dir ${dir}`,
        'i',
      ),
    );
  }, 120_000);

  it(
    'a checkpoint that does not fit on the disk (a 3 MB tmpfs): exit 1 naming the file and ENOSPC, ' +
      'the previous checkpoint untouched',
    async (ctx) => {
      const mnt = join(tmp, 'small-disk');
      mkdirSync(mnt);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { encoding: 'utf8' });
      if (mount.status !== 0) {
        console.warn(
          `skipped: cannot mount a tmpfs (${(mount.stderr || String(mount.error)).trim()}); this test needs root`,
        );
        ctx.skip();
      }
      try {
        // one checkpoint is 2.2 MB: the first fits, the second cannot (its temporary file sits beside the first)
        const dir = join(mnt, 'run');
        const child = cli(['train', ...TINY, '--epochs', '2', '--run-dir', dir, '--data-dir', dataDir!, '--quiet']);
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const code = await new Promise<number | null>((res) => child.on('exit', res));
        expect(code, out).toBe(1);
        expect(out).toMatch(
          new RegExp(`error: .*write ${dir}/checkpoint\\.safetensors: .*(ENOSPC|no space left)`, 'i'),
        );
        expect(out).toMatch(
          new RegExp(
            `The previous checkpoint is untouched: ${dir}/checkpoint\\.safetensors ` +
              'holds the run at epoch 1 \\(global step 2\\)',
          ),
        );
        expect(out).not.toMatch(/\n\s+at /); // a message, not a stack
        expect(ckpt(dir).state).toMatchObject({ epoch: 1, step: 0, globalStep: 2 });
        expect(metrics(dir).map((m) => m.epoch)).toEqual([1]);
      } finally {
        spawnSync('umount', [mnt]);
      }
    },
    120_000,
  );

  it('SIGTERM finishes the step, saves and exits 143', async () => {
    const dir = join(tmp, 'sigterm');
    const child = cli([
      'train',
      '--epochs',
      '1',
      '--steps-per-epoch',
      '400',
      '--batch-size',
      '8',
      '--test-subset',
      '64',
      '--run-dir',
      dir,
      '--data-dir',
      dataDir!,
      '--log-every',
      '1',
      '--quiet',
    ]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (/Epoch \|/.test(out)) {
          clearInterval(t);
          setTimeout(() => {
            child.kill('SIGTERM');
            res();
          }, 1500);
        }
      }, 100);
    });
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    expect(code, out).toBe(143);
    expect(out).toMatch(/terminated \(SIGTERM\): finishing this step and saving a checkpoint/);
    expect(out).toMatch(/saved .*checkpoint\.safetensors at epoch 1, step \d+/);
    expect(out).toMatch(
      new RegExp(
        'stopped: interrupted \\(SIGTERM\\); .* holds the run at epoch 1, step \\d+ .*; ' +
          'continue with: pnpm train --resume --run-dir',
      ),
    );
    const st = ckpt(dir).state;
    expect(st.step).toBeGreaterThan(0);
    expect(st.step).toBeLessThan(400);
  }, 120_000);
});
