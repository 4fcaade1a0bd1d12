// End-to-end benchmarks of `pnpm bench`: a whole ResNet20 training step and inference, on the
// adapter in use.
//   - training images/s at batch 128 (augmentation on the GPU, forward, loss, backward, SGD),
//     and model FLOP utilization = images/s x 3 x 81.6 MFLOP / the ALU ceiling of this run
//   - inference images/s at batch 256 (eval mode)
//   - a per-kernel breakdown of one training step from GPU timestamps
//   - time to the first training step from a cold start, in a fresh process, with the driver's
//     shader cache as earlier runs left it and (not with --quick) with that cache empty
//   - GPU memory held after 100 and after 1000 steps (must be equal), and pool misses between
//   - the trainer's own loop (e2e-trainer-loop.ts) for 100 steps with its default logging,
//     beside the step row: what `pnpm train` reaches
//   - the host's cost of a step (milliseconds of the JavaScript thread, adapter idle) as the
//     trainer records it (a captured step replayed) and with every step recorded anew
// Images are random bytes: the pipeline is the trainer's, the values don't change the cost.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtime, SubmitPacer, Tensor } from '@wgtorch/tensor';
import { SGD, OneCycleLR, noGrad, tidy, fromDevice } from '@wgtorch/autograd';
import {
  ResNet20,
  RESNET20_FORWARD_FLOPS,
  TrainLoader,
  decayGroups,
  trainStep,
  CapturedSteps,
  uploadBatch,
  testBatches,
  type CifarSplit,
} from '@wgtorch/resnet20';
import type { BenchContext, EndToEndReport } from './harness.js';
import { runTrainerLoop } from './e2e-trainer-loop.js';
import { median, randomSplit } from './random-split.js';

/**
 * A training run as the trainer records it: with `capture` (the trainer's default) the step is
 * captured once and replayed (CapturedSteps); without, every step runs the autograd anew.
 */
function makeRun(batch: number, split: CifarSplit, capture = true) {
  const model = new ResNet20({ seed: 0 });
  const { decay, noDecay } = decayGroups(model, false);
  const opt = new SGD(
    [
      { params: decay, weightDecay: 5e-4 },
      { params: noDecay, weightDecay: 0 },
    ],
    { lr: 0.05, momentum: 0.9, nesterov: true },
  );
  const loader = new TrainLoader(split, { batchSize: batch, seed: 0 });
  const sched = new OneCycleLR(opt, {
    maxLr: 0.05,
    totalSteps: 100000,
    pctStart: 0.25,
    divFactor: 10,
    finalDivFactor: 100,
  });
  // WGTORCH_PACER_DEPTH: submits in flight (the trainer's default: 1 on CPU adapters, 2 on GPUs).
  const depth = process.env.WGTORCH_PACER_DEPTH ? Number(process.env.WGTORCH_PACER_DEPTH) : undefined;
  const pacer = new SubmitPacer(runtime(), { depth });
  let step = 0;
  const lossSum = Tensor.zeros([1]);
  const correct = Tensor.zeros([1]);
  const counters = runtime().dispatcher.counters;
  /** Dispatches recorded by each step. */
  const dispatches: number[] = [];
  const captured = capture ? new CapturedSteps({ model, opt, sched, acc: { lossSum, correct } }) : undefined;
  const record = () => {
    const b = loader.batch(0, step++ % loader.steps);
    if (captured) return captured.step(b);
    const g = uploadBatch(b);
    trainStep(model, opt, sched, g.x, g.labels, { lossSum, correct });
    g.dispose();
  };
  return {
    model,
    dispatches,
    /** Steps until the trainer's captured step replays (at most 8), or 2 without capture: compiled and warm. */
    async warmUp(): Promise<void> {
      for (let i = 0; i < 8 && (i < 2 || (captured && !captured.replayed)); i++) await this.step();
    },
    /** Records one step and submits it once the previous one is done (as the trainer does). */
    async step(): Promise<void> {
      const d0 = counters.dispatches;
      record();
      await pacer.throttle();
      pacer.submit();
      dispatches.push(counters.dispatches - d0);
    },
    /**
     * Waits until the adapter is idle, then records and submits one step: the wall milliseconds
     * of that are the JavaScript thread's cost of a step, with nothing else on the CPU to preempt
     * it (lavapipe's workers) and no wait inside.
     */
    async hostStep(): Promise<number> {
      await this.finish();
      const t0 = performance.now();
      record();
      pacer.submit();
      return performance.now() - t0;
    },
    async finish(): Promise<void> {
      await pacer.wait();
      await runtime().sync();
    },
    dispose(): void {
      captured?.dispose();
      lossSum.dispose();
      correct.dispose();
      opt.dispose();
      model.dispose();
    },
  };
}

/** Wall milliseconds per step over n pipelined steps, and the median dispatches of those steps. */
async function timeSteps(
  run: ReturnType<typeof makeRun>,
  n: number,
): Promise<{ msPerStep: number; dispatches: number }> {
  await run.finish();
  run.dispatches.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run.step();
  await run.finish();
  return { msPerStep: (performance.now() - t0) / n, dispatches: median(run.dispatches) };
}

/** Median host milliseconds of n steps, each recorded and submitted with the adapter idle (hostStep). */
async function hostMs(run: ReturnType<typeof makeRun>, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await run.hostStep());
  await run.finish();
  return median(ms);
}

function memoryInUse(): number {
  const s = runtime().pool.getStats();
  return s.liveBytes + s.pooledBytes;
}

/**
 * Cold start in a fresh process: runtime, model, first training step done on the GPU. The
 * driver keeps compiled shaders on disk (Mesa in ~/.cache/mesa_shader_cache_db, NVIDIA in
 * ~/.cache/nvidia): with `emptyDriverCache` the child gets an empty cache directory, which is
 * what the very first run on a machine pays (on lavapipe, LLVM compiles every kernel).
 */
function coldStartMs(emptyDriverCache = false): number {
  // This module runs bundled under .cache/run/; find the repository from there.
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'pnpm-workspace.yaml')) && dirname(root) !== root) root = dirname(root);
  // WGTORCH_COLDSTART_BUNDLE: a prebuilt bundle of e2e-coldstart.ts, where esbuild is absent.
  const bundle = process.env.WGTORCH_COLDSTART_BUNDLE;
  const args = bundle ? [bundle] : [join(root, 'scripts/run-ts.mjs'), 'benchmarks/src/e2e-coldstart.ts'];
  const env = { ...process.env };
  if (emptyDriverCache) {
    const dir = mkdtempSync(join(tmpdir(), 'wgtorch-shader-cache-'));
    Object.assign(env, { MESA_SHADER_CACHE_DIR: dir, __GL_SHADER_DISK_CACHE_PATH: dir, XDG_CACHE_HOME: dir });
  }
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env });
  const m = /coldStartMs=([\d.]+)/.exec(r.stdout ?? '');
  if (!m) throw new Error(`cold-start child failed: ${(r.stderr || r.stdout || '').slice(-500)}`);
  return Number(m[1]);
}

export async function runEndToEnd(ctx: BenchContext): Promise<EndToEndReport> {
  const quick = ctx.quick;
  const software = runtime().profile.software;
  const split = randomSplit(2048, 1);

  // Training throughput at batch 128.
  const B = 128;
  const train = makeRun(B, split);
  await train.warmUp();
  const { msPerStep, dispatches: dispatchesPerStep } = await timeSteps(train, quick ? 3 : software ? 8 : 50);
  const hostMsPerStep = await hostMs(train, quick ? 3 : software ? 6 : 30);
  const trainImagesPerSec = (1000 * B) / msPerStep;
  const trainFlops = 3 * RESNET20_FORWARD_FLOPS * B;
  const mfu = trainFlops / msPerStep / 1e6 / ctx.ceilings.aluGflops;
  ctx.addRow({
    kernel: 'e2e.trainStep',
    shape: `ResNet20 batch ${B}`,
    medianMs: msPerStep,
    gflops: trainFlops / msPerStep / 1e6,
    extra: { imgPerSec: trainImagesPerSec, hostMs: hostMsPerStep, dispatches: dispatchesPerStep },
  });

  // Batch 8, where the fixed cost of a step (recording, dispatches, submits) dominates.
  const small = makeRun(8, split);
  await small.warmUp();
  const s8 = await timeSteps(small, quick ? 10 : 40);
  const hostMsPerStepBatch8 = await hostMs(small, quick ? 10 : 30);
  small.dispose();
  // The same without the captured step: every step records anew through the autograd.
  const eagerHostMs = async (batch: number, n: number) => {
    const run = makeRun(batch, split, false);
    await run.warmUp();
    const ms = await hostMs(run, n);
    run.dispose();
    return ms;
  };
  const hostMsPerStepBatch8Eager = await eagerHostMs(8, quick ? 10 : 30);
  const hostMsPerStepEager = await eagerHostMs(B, quick ? 3 : software ? 6 : 30);
  const trainImagesPerSecBatch8 = (1000 * 8) / s8.msPerStep;
  ctx.addRow({
    kernel: 'e2e.trainStep',
    shape: 'ResNet20 batch 8',
    medianMs: s8.msPerStep,
    gflops: (3 * RESNET20_FORWARD_FLOPS * 8) / s8.msPerStep / 1e6,
    extra: { imgPerSec: trainImagesPerSecBatch8, hostMs: hostMsPerStepBatch8, dispatches: s8.dispatches },
  });

  // The trainer's own loop, right after the step rows so that both see the same machine.
  const loopRun = await runTrainerLoop(quick ? 20 : 100);
  const trainerLoopImagesPerSec = loopRun.imagesPerSec;
  ctx.addRow({
    kernel: 'e2e.trainerLoop',
    shape: `ResNet20 batch ${loopRun.batchSize}, ${loopRun.steps} steps`,
    medianMs: loopRun.msPerStep,
    gflops: (3 * RESNET20_FORWARD_FLOPS * loopRun.batchSize) / loopRun.msPerStep / 1e6,
    extra: {
      imgPerSec: trainerLoopImagesPerSec,
      ofStepRow: trainerLoopImagesPerSec / trainImagesPerSec,
      readbacks: loopRun.readbacks,
      lateWakes: loopRun.lateWakes,
    },
  });

  // Per-kernel breakdown of one step.
  const breakdown: EndToEndReport['breakdown'] = [];
  await train.finish();
  if (runtime().dispatcher.startProfiling()) {
    await train.step();
    await train.finish();
    const timings = await runtime().dispatcher.stopProfiling();
    const by = new Map<string, { ms: number; dispatches: number }>();
    for (const t of timings) {
      const e = by.get(t.name) ?? { ms: 0, dispatches: 0 };
      e.ms += t.ms;
      e.dispatches++;
      by.set(t.name, e);
    }
    for (const [kernel, e] of by) breakdown.push({ kernel, ...e });
    breakdown.sort((a, b) => b.ms - a.ms);
    const total = breakdown.reduce((a, b) => a + b.ms, 0);
    console.log(
      `\none training step (batch ${B}) by kernel, GPU timestamps (one pass per dispatch while profiling): ` +
        `${total.toFixed(1)} ms in ${timings.length} dispatches`,
    );
    for (const e of breakdown)
      console.log(
        `  ${e.kernel.padEnd(34)} ${e.ms.toFixed(2).padStart(9)} ms ` +
          `${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${String(e.dispatches).padStart(4)} dispatches`,
      );
    console.log('');
  }
  train.dispose();

  // Inference at batch 256.
  const IB = 256;
  const model = new ResNet20({ seed: 0 }).eval();
  const batch = testBatches(split, IB).next().value!;
  const g = uploadBatch(batch);
  const infer = () => noGrad(() => tidy(() => void model.forward(fromDevice(g.x.reshape(g.x.shape)))));
  const inferMs = await ctx.time(infer, { warmup: 1, batches: quick ? 2 : 4 });
  const inferImagesPerSec = (1000 * IB) / inferMs;
  ctx.addRow({
    kernel: 'e2e.inference',
    shape: `ResNet20 batch ${IB}`,
    medianMs: inferMs,
    gflops: (RESNET20_FORWARD_FLOPS * IB) / inferMs / 1e6,
    extra: { imgPerSec: inferImagesPerSec },
  });
  g.dispose();
  model.dispose();

  // Memory: held after 100 steps and after 1000, with a small batch on software adapters.
  const memoryBatch = software ? 8 : 128;
  await runtime().trim(); // drop what the batch-128/256 runs left pooled: measure this run alone
  const mem = makeRun(memoryBatch, split);
  const steps100 = quick ? 20 : 100;
  const steps1000 = quick ? 60 : 1000;
  for (let i = 0; i < steps100; i++) await mem.step();
  await mem.finish();
  const memoryBytesAt100 = memoryInUse();
  const missesAt100 = runtime().pool.getStats().misses;
  for (let i = steps100; i < steps1000; i++) await mem.step();
  await mem.finish();
  const memoryBytesAt1000 = memoryInUse();
  const poolMissesAfter100 = runtime().pool.getStats().misses - missesAt100;
  mem.dispose();
  console.log(
    `memory (batch ${memoryBatch}): ${(memoryBytesAt100 / 2 ** 20).toFixed(1)} MiB after ${steps100} steps, ` +
      `${(memoryBytesAt1000 / 2 ** 20).toFixed(1)} MiB after ${steps1000}; ` +
      `${poolMissesAfter100} new GPU buffers in between`,
  );

  const cold = coldStartMs();
  console.log(
    `cold start to the first training step done: ${cold.toFixed(0)} ms (driver's shader cache as this run left it)`,
  );
  const coldEmpty = quick ? undefined : coldStartMs(true);
  if (coldEmpty !== undefined)
    console.log(`cold start with the driver's shader cache empty (a machine's first run): ${coldEmpty.toFixed(0)} ms`);
  console.log(
    `training: ${trainImagesPerSec.toFixed(1)} img/s at batch ${B}, ` +
      `MFU ${(100 * mfu).toFixed(1)}% of the ALU ceiling; ` +
      `inference: ${inferImagesPerSec.toFixed(1)} img/s at batch ${IB}`,
  );
  console.log(
    `fixed cost per step: ${dispatchesPerStep} dispatches; ` +
      `host (JavaScript thread, wall time with the adapter idle) ${hostMsPerStep.toFixed(2)} ms at batch ${B}, ` +
      `${hostMsPerStepBatch8.toFixed(2)} ms at batch 8 (the step replayed; recorded anew through the autograd: ` +
      `${hostMsPerStepEager.toFixed(2)} and ${hostMsPerStepBatch8Eager.toFixed(2)} ms); ` +
      `${trainImagesPerSecBatch8.toFixed(1)} img/s at batch 8`,
  );
  console.log(
    `trainer loop (pnpm train's loop: ${loopRun.steps} steps of ${loopRun.batchSize}, loss read back every ` +
      `${loopRun.logEvery} steps, progress bar): ${trainerLoopImagesPerSec.toFixed(1)} img/s, ` +
      `${((100 * trainerLoopImagesPerSec) / trainImagesPerSec).toFixed(0)}% of the step row's ` +
      `${trainImagesPerSec.toFixed(1)}; ${loopRun.readbacks} readbacks, the pacer woke late ` +
      `${loopRun.lateWakes} of ${loopRun.retired} times`,
  );

  // trainerLoopImagesPerSec is not in harness.ts's EndToEndReport yet: built first, so it is kept.
  const report = {
    trainImagesPerSec,
    trainerLoopImagesPerSec,
    mfu,
    dispatchesPerStep,
    hostMsPerStep,
    hostMsPerStepBatch8,
    hostMsPerStepEager,
    hostMsPerStepBatch8Eager,
    hostClock: 'wall time, adapter idle' as const,
    trainImagesPerSecBatch8,
    inferImagesPerSec,
    coldStartMs: cold,
    coldStartEmptyCacheMs: coldEmpty,
    memoryBytesAt100,
    memoryBytesAt1000,
    memoryBatch,
    poolMissesAfter100,
    breakdown,
  };
  return report;
}
