// A quick measurement at startup of which implicit-GEMM variant runs faster on this adapter.
//
// conv2dVariant() picks by rule (variants.ts): the subgroup kernels on CPU adapters with
// subgroups exactly 8 wide, the tiled ones everywhere else. Only where both can run is there a
// choice to measure; there autotuneConv2dVariant() times the forward of a ResNet20
// convolution (16->16 3x3 at 32x32, batch 4) with each variant and keeps the faster for the
// rest of the process. The trainer and `pnpm bench` call it before their first convolution.
// On lavapipe it confirms the rule (the subgroup kernel 5-7x faster) in 0.2 s with a warm
// shader cache; with an empty one, compiling the tiled kernel adds about a second. (Timing the
// two gradients too took 3.9 s there.)

import { runtime, Tensor } from '@wgtorch/tensor';
import { timeRuns } from '../ceilings/timing.js';
import { conv2dForward } from './conv2d.js';
import { availableVariants, conv2dVariant, forcedConv2dVariant, setAdapterConv2dVariant, setConv2dVariant, type Conv2dVariant } from './variants.js';

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

const PROBE = { x: [4, 16, 32, 32], w: [16, 16, 3, 3], opts: { stride: 1, padding: 1 } };

/**
 * Times every variant this adapter can run on a small ResNet20 convolution and keeps the
 * fastest (see the file comment). Nothing is timed where only one variant can run or a
 * variant is forced (setConv2dVariant).
 */
export async function autotuneConv2dVariant(): Promise<Conv2dAutotune> {
  const t0 = performance.now();
  const variants = availableVariants();
  const forced = forcedConv2dVariant();
  if (forced) return { chosen: forced, ms: {}, skipped: 'forced by setConv2dVariant', elapsedMs: 0 };
  if (variants.length < 2) return { chosen: conv2dVariant(), ms: {}, skipped: `only the ${variants[0]} kernels run on this adapter`, elapsedMs: 0 };
  const x = Tensor.randn(PROBE.x, { seed: 1 });
  const w = Tensor.randn(PROBE.w, { seed: 2, std: 0.1 });
  const step = () => conv2dForward(x, w, PROBE.opts).dispose();
  const ms: Partial<Record<Conv2dVariant, number>> = {};
  try {
    for (const v of variants) {
      setConv2dVariant(v);
      ms[v] = (await timeRuns(step, { method: 'wallclock', warmup: 1, batches: 3, minBatchMs: 5, maxPerBatch: 8 })).medianMs;
    }
  } finally {
    setConv2dVariant(undefined);
    for (const t of [x, w]) t.dispose();
    await runtime().sync();
  }
  const chosen = variants.reduce((a, b) => (ms[b]! < ms[a]! ? b : a));
  setAdapterConv2dVariant(chosen);
  return { chosen, ms, elapsedMs: performance.now() - t0 };
}

/** One line for logs: the variant kept and what each measured. */
export function describeConv2dAutotune(r: Conv2dAutotune): string {
  const times = Object.entries(r.ms).map(([v, t]) => `${v} ${t!.toFixed(1)} ms`).join(', ');
  return `conv2d kernels: ${r.chosen} (${r.skipped ?? `autotuned in ${(r.elapsedMs / 1000).toFixed(1)} s: ${times}`})`;
}
