// A quick measurement at startup of which implicit-GEMM variant runs faster on this adapter.
//
// The kernel profile picks by rule (../profile.ts): the subgroup kernels on CPU adapters with
// subgroups exactly 8 wide, the tiled ones everywhere else. Only where both can run is there a
// choice to measure; there autotuneConv2dVariant() times the forward of one ResNet20
// convolution (CONV2D_PROBE) with each variant and keeps the result on the runtime's profile
// under that shape's key; shapes not timed use the probe's result. The trainer and `pnpm bench`
// call it before their first convolution.

import { runtime, Tensor } from '@wgtorch/tensor';
import { timeRuns } from '../ceilings/timing.js';
import { CONV2D_PROBE, CONV2D_PROBE_KEY, kernelProfile, type Conv2dTuning, type Conv2dVariant } from '../profile.js';
import { conv2dForward } from './conv2d.js';

/** What autotuneConv2dVariant chose and measured. */
export interface Conv2dAutotune {
  /** The variant kept for this process. */
  chosen: Conv2dVariant;
  /** Median ms of the probe convolution per variant timed; empty where nothing was timed. */
  ms: Partial<Record<Conv2dVariant, number>>;
  /** Why nothing was timed, where nothing was. */
  skipped?: string;
  /** Wall time of the whole autotune, compilation included. */
  elapsedMs: number;
}

/**
 * Times every variant this adapter can run on the probe convolution and keeps the fastest on
 * the profile (see the file comment). Nothing is timed where only one variant can run or the
 * options force one.
 */
export async function autotuneConv2dVariant(): Promise<Conv2dAutotune> {
  const t0 = performance.now();
  const profile = kernelProfile();
  const variants = profile.conv2dVariants;
  const forced = profile.options.conv2dVariant;
  if (forced) return { chosen: forced, ms: {}, skipped: 'forced by the conv2dVariant option', elapsedMs: 0 };
  if (variants.length < 2)
    return {
      chosen: profile.conv2dVariant(),
      ms: {},
      skipped: `only the ${variants[0]} kernels run on this adapter`,
      elapsedMs: 0,
    };
  const x = Tensor.randn([...CONV2D_PROBE.x], { seed: 1 });
  const w = Tensor.randn([...CONV2D_PROBE.w], { seed: 2, std: 0.1 });
  const step = () => conv2dForward(x, w, { stride: CONV2D_PROBE.stride, padding: CONV2D_PROBE.padding }).dispose();
  const ms: Partial<Record<Conv2dVariant, number>> = {};
  const prev = profile.options;
  try {
    for (const v of variants) {
      profile.setOptions({ ...prev, conv2dVariant: v });
      ms[v] = (
        await timeRuns(step, { method: 'wallclock', warmup: 1, batches: 3, minBatchMs: 5, maxPerBatch: 8 })
      ).medianMs;
    }
  } finally {
    profile.setOptions(prev);
    for (const t of [x, w]) t.dispose();
    await runtime().sync();
  }
  const chosen = variants.reduce((a, b) => (ms[b]! < ms[a]! ? b : a));
  profile.conv2dTuning.set(CONV2D_PROBE_KEY, { chosen, ms });
  return { chosen, ms, elapsedMs: performance.now() - t0 };
}

/** One line for logs: the variant kept and what each measured. */
export function describeConv2dAutotune(r: Conv2dAutotune): string {
  const times = Object.entries(r.ms)
    .map(([v, t]) => `${v} ${t!.toFixed(1)} ms`)
    .join(', ');
  return `conv2d kernels: ${r.chosen} (${r.skipped ?? `autotuned in ${(r.elapsedMs / 1000).toFixed(1)} s: ${times}`})`;
}

/** The autotune results kept on the runtime, one row per shape, for a table. */
export function conv2dTuningTable(): { shape: string; chosen: Conv2dVariant; ms: string }[] {
  return [...kernelProfile().conv2dTuning].map(([shape, t]: [string, Conv2dTuning]) => ({
    shape,
    chosen: t.chosen,
    ms: Object.entries(t.ms)
      .map(([v, m]) => `${v} ${m!.toFixed(2)}`)
      .join(', '),
  }));
}
