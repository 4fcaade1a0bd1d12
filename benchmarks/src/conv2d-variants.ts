// Compares conv2d kernel variants and configurations on ResNet20's shapes, interleaved in one
// run so machine noise hits them alike:
//   node scripts/run-ts.mjs benchmarks/src/conv2d-variants.ts [--ops forward,inputGrad] [--shapes 1,3] [--configs JSON]
// --configs takes a JSON list of {variant, ...KernelConfig} (rm, tc, sgs, wpairs, avec, flatSeg, rowWindow,
// tileRows, splitGroups, ...; any key left out keeps the default for the shape; e.g.
// {"variant":"subgroup","wpairs":0,"avec":false} is the plain weight-gradient block).

import { getRuntime, runtime } from '@wgtorch/tensor';
import { RESNET20_CONVS, convBenchCase } from './kernels/conv2d.js';
import {
  kernelProfile,
  measureAluCeiling,
  timeRuns,
  type Conv2dVariant,
  type KernelConfig,
} from '@wgtorch/kernels-wgsl';

type Config = KernelConfig & { variant: Conv2dVariant };

const argv = process.argv.slice(2);
const opt = (k: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ops = (opt('--ops') ?? 'forward,inputGrad,weightGrad').split(',') as ('forward' | 'inputGrad' | 'weightGrad')[];
const shapes = (opt('--shapes') ?? RESNET20_CONVS.map((_, i) => i).join(',')).split(',').map(Number);
const configs: Config[] = JSON.parse(
  opt('--configs') ??
    '[{"variant":"tiled"},{"variant":"subgroup","rm":2,"tc":16,"sgs":1},{"variant":"subgroup","rm":2,"tc":16,"sgs":2}]',
);
const rounds = Number(opt('--rounds') ?? 3);

await getRuntime({ dawnFlags: process.env.CONV_DAWN_FLAGS ? process.env.CONV_DAWN_FLAGS.split(' ') : [] });
const apply = (c: Config) => {
  const { variant, ...cfg } = c;
  kernelProfile().setOptions({ conv2dVariant: variant, conv2dConfig: cfg });
};
const name = (c: Config) => JSON.stringify(c).replace(/"/g, '');
for (const op of ops) {
  for (const si of shapes) {
    const bc = convBenchCase(RESNET20_CONVS[si], op);
    const inst = bc.setup();
    const best = configs.map(() => Infinity);
    const frac = configs.map(() => 0);
    for (let r = 0; r < rounds; r++) {
      for (let ci = 0; ci < configs.length; ci++) {
        apply(configs[ci]);
        // The ceiling right before each measurement, so load from other processes cancels out.
        const ceil = (await measureAluCeiling({ method: 'wallclock', batches: 3, warmup: 0, minBatchMs: 15 })).value;
        const t = await timeRuns(inst.run, {
          method: 'wallclock',
          warmup: r === 0 ? 2 : 1,
          batches: 3,
          minBatchMs: 30,
        });
        best[ci] = Math.min(best[ci], t.medianMs);
        frac[ci] = Math.max(frac[ci], bc.flops / t.medianMs / 1e6 / ceil);
      }
    }
    inst.dispose();
    const line = configs
      .map(
        (c, ci) =>
          `${name(c)}: ${best[ci].toFixed(2)}ms ${(bc.flops / best[ci] / 1e6).toFixed(1)}GF ` +
          `${(100 * frac[ci]).toFixed(0)}%`,
      )
      .join(' | ');
    console.log(`${op.padEnd(10)} ${bc.shape.padEnd(28)} ${line}`);
  }
}
runtime().destroy();
process.exit(0);
