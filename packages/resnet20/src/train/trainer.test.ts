// The trainer on real CIFAR-10 (found or fetched as `pnpm train` does: cifarDir): a short run
// that clearly learns, resume-equals-uninterrupted, Ctrl-C, and checkpoints that survive a kill
// mid-write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { trainMain, CHECKPOINT_FILE } from './trainer.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { EpochMetrics } from './report.js';
import { cifarDir } from '../data/testing.js';

const repo = resolve(import.meta.dirname, '../../../..');
const dataDir = await cifarDir();
const tmp = mkdtempSync(join(tmpdir(), 'wgtorch-train-'));

function metrics(dir: string): EpochMetrics[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);
}

/** The figures that must not depend on interruptions (not timings). */
const numbers = (m: EpochMetrics[]) =>
  m.map(({ epoch, trainLoss, trainAcc, testLoss, testAcc, lr, steps }) => ({
    epoch,
    trainLoss,
    trainAcc,
    testLoss,
    testAcc,
    lr,
    steps,
  }));

async function train(args: string[]): Promise<number> {
  const log = console.log;
  console.log = () => {}; // keep the test output short
  try {
    return await trainMain([...args, '--data-dir', dataDir, '--quiet']);
  } finally {
    console.log = log;
  }
}

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => {
  runtime().destroy();
  rmSync(tmp, { recursive: true, force: true });
});

describe('training on CIFAR-10', () => {
  it('a short real run clearly learns', async () => {
    const dir = join(tmp, 'short');
    const code = await train([
      '--epochs',
      '1',
      '--steps-per-epoch',
      '200',
      '--batch-size',
      '32',
      '--test-subset',
      '1000',
      '--run-dir',
      dir,
      '--log-every',
      '50',
    ]);
    expect(code).toBe(0);
    const [m] = metrics(dir);
    expect(m.steps).toBe(200);
    // 200 steps of 32 images; chance is 10%
    expect(m.testAcc).toBeGreaterThan(0.3);
    expect(m.trainLoss).toBeLessThan(2.2); // the mean over the epoch, from ~2.3 at the start
    console.info(
      `short run: ${m.steps} steps, train loss ${m.trainLoss.toFixed(3)}, ` +
        `test accuracy ${(100 * m.testAcc).toFixed(1)}%, ${m.imagesPerSec.toFixed(1)} img/s`,
    );
    expect(existsSync(join(dir, 'curves.svg'))).toBe(true);
    expect(loadCheckpoint(join(dir, CHECKPOINT_FILE)).state).toMatchObject({ epoch: 1, step: 0, globalStep: 200 });
  }, 600_000);

  it('a resumed run prints the same numbers as an uninterrupted one', async () => {
    const common = [
      '--epochs',
      '2',
      '--steps-per-epoch',
      '6',
      '--batch-size',
      '16',
      '--test-subset',
      '256',
      '--log-every',
      '2',
      '--seed',
      '3',
    ];
    const a = join(tmp, 'uninterrupted');
    const b = join(tmp, 'resumed');
    expect(await train([...common, '--run-dir', a])).toBe(0);
    // stop mid-epoch 1, then again at the epoch boundary, then finish
    expect(await train([...common, '--run-dir', b, '--stop-after-steps', '4'])).toBe(0);
    expect(await train(['--resume', '--run-dir', b, '--stop-after-steps', '2'])).toBe(0);
    expect(await train(['--resume', '--run-dir', b])).toBe(0);
    expect(numbers(metrics(b))).toEqual(numbers(metrics(a)));
    const wa = loadCheckpoint(join(a, CHECKPOINT_FILE)).model;
    const wb = loadCheckpoint(join(b, CHECKPOINT_FILE)).model;
    for (const k of Object.keys(wa))
      expect(Buffer.compare(Buffer.from(wa[k].data.buffer), Buffer.from(wb[k].data.buffer)), k).toBe(0);
  }, 300_000);

  it('a NaN loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    const dir = join(tmp, 'nan');
    const common = [
      '--steps-per-epoch',
      '4',
      '--batch-size',
      '8',
      '--test-subset',
      '64',
      '--log-every',
      '1',
      '--run-dir',
      dir,
    ];
    expect(await train([...common, '--epochs', '1'])).toBe(0);
    const good = loadCheckpoint<{ globalStep: number }>(join(dir, CHECKPOINT_FILE));
    const errors: string[] = [];
    const err = console.error;
    console.error = (m: string) => errors.push(String(m));
    try {
      // resume into a second epoch with an absurd learning rate
      const cfgPath = join(dir, CHECKPOINT_FILE);
      const ck = loadCheckpoint<Record<string, unknown> & { config: Record<string, unknown> }>(cfgPath);
      saveCheckpoint(cfgPath, {
        ...ck,
        state: { ...ck.state, config: { ...ck.state.config, epochs: 2, lr: 1e30, schedule: 'constant' } },
      });
      expect(await train(['--resume', '--run-dir', dir])).toBe(3);
    } finally {
      console.error = err;
    }
    expect(errors.join('\n')).toMatch(
      /training loss became (NaN|Infinity|-Infinity) at epoch 2, step \d+; the last good checkpoint .* is kept/,
    );
    const after = loadCheckpoint<{ globalStep: number }>(join(dir, CHECKPOINT_FILE));
    expect(after.state.globalStep).toBe(good.state.globalStep);
  }, 300_000);

  it('Ctrl-C saves a checkpoint and exits cleanly; resuming finishes the run', async () => {
    const dir = join(tmp, 'sigint');
    const child = spawn(
      process.execPath,
      [
        join(repo, 'scripts/run-ts.mjs'),
        'packages/resnet20/src/cli.ts',
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
        dataDir,
        '--log-every',
        '1',
        '--quiet',
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // interrupt once training is under way
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (/Epoch \|/.test(out)) {
          clearInterval(t);
          setTimeout(() => {
            child.kill('SIGINT');
            res();
          }, 1500);
        }
      }, 100);
    });
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    expect(code, out).toBe(130);
    expect(out).toMatch(/saved .*checkpoint\.safetensors at epoch 1, step \d+/);
    const st = loadCheckpoint<{ step: number }>(join(dir, CHECKPOINT_FILE)).state;
    expect(st.step).toBeGreaterThan(0);
    expect(st.step).toBeLessThan(400);
  }, 300_000);
});

describe('checkpoint files', () => {
  it('a process killed while writing a checkpoint leaves the previous one loadable', async () => {
    const path = join(tmp, 'kill.safetensors');
    const small = { w: { shape: [4], data: new Float32Array([1, 2, 3, 4]) } };
    saveCheckpoint(path, { model: small, optimizer: {}, state: { n: 1 } });
    // A child writes a 400 MB checkpoint over it and is killed part-way.
    const child = spawn(
      process.execPath,
      [join(repo, 'scripts/run-ts.mjs'), 'packages/resnet20/src/train/checkpoint-writer.fixture.ts', path],
      { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    // kill it once its temporary file exists, i.e. in the middle of the write
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (readdirSync(tmp).some((f) => f.startsWith('.kill.safetensors') && f.endsWith('.tmp'))) {
          clearInterval(t);
          res();
        }
      }, 2);
    });
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    const back = loadCheckpoint<{ n: number }>(path);
    expect(back.state.n).toBe(1);
    expect(Array.from(back.model.w.data)).toEqual([1, 2, 3, 4]);
    // what the killed writer left is a temporary file beside it, never the checkpoint itself
    expect(readdirSync(tmp).filter((f) => f.startsWith('kill.safetensors'))).toEqual(['kill.safetensors']);
  }, 120_000);

  it('refuses a checkpoint that is not one, naming the file', () => {
    const p = join(tmp, 'nope.safetensors');
    expect(() => loadCheckpoint(p)).toThrow(/No checkpoint at .*nope\.safetensors/);
    spawnSync('sh', ['-c', `printf 'garbage' > ${p}`]);
    expect(() => loadCheckpoint(p)).toThrow(/nope\.safetensors/);
  });
});
