// Timing recorded GPU work: the median over several batches of launches.
//
// 'timestamps' uses the dispatcher's per-dispatch GPU timestamps (every dispatch of one run is
// summed); 'wallclock' times k launches plus one `await runtime().sync()` on the CPU, with k
// chosen so a batch lasts at least `minBatchMs`. 'auto' prefers timestamps when the device has
// them and they are plausible (not all zero), else the wall clock.

import { runtime } from '@wgtorch/tensor';

/** How kernels are timed: GPU timestamp queries, or wall clock around submit and wait. */
export type TimingMethod = 'timestamps' | 'wallclock';

/** Options of timeRuns: method, warm-up and batch counts. */
export interface TimingOptions {
  method?: TimingMethod | 'auto';
  /** Untimed runs first (pipeline compilation, pool warm-up). Default 2. */
  warmup?: number;
  /** Batches whose per-run times give the median (timestamps: at least this many runs). Default 7. */
  batches?: number;
  /**
   * Minimum wall-clock length of a batch in ms. Default 40. Timestamps: runs are added while
   * they fit in batches * minBatchMs, up to 63.
   */
  minBatchMs?: number;
  /** At most this many runs per batch. Default 64. */
  maxPerBatch?: number;
}

/** What timeRuns measured: median and minimum per-run time and the samples. */
export interface Timing {
  medianMs: number;
  minMs: number;
  method: TimingMethod;
  /** Per-run time of each batch, ms. */
  samples: number[];
}

/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function wallclock(run: () => void, batches: number, minBatchMs: number, maxPerBatch: number): Promise<number[]> {
  const rt = runtime();
  let t = performance.now();
  run();
  await rt.sync();
  const once = Math.max(performance.now() - t, 1e-3);
  const k = Math.max(1, Math.min(maxPerBatch, Math.ceil(minBatchMs / once)));
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    t = performance.now();
    for (let i = 0; i < k; i++) run();
    await rt.sync();
    samples.push((performance.now() - t) / k);
  }
  return samples;
}

/** Set when the device rejected timestamp profiling once; later timings use the wall clock. */
let timestampsFailed: string | undefined;

/** Why GPU timestamps are not used, if they were tried and failed. */
export function timestampFailure(): string | undefined {
  return timestampsFailed;
}

async function timestamps(run: () => void, batches: number): Promise<number[] | undefined> {
  if (timestampsFailed) return undefined;
  const rt = runtime();
  const d = rt.dispatcher;
  await rt.sync();
  if (!d.startProfiling()) return undefined;
  const perRun: number[] = [];
  let timings: { ms: number }[] = [];
  try {
    try {
      for (let b = 0; b < batches; b++) {
        const before = d.counters.dispatches;
        run();
        perRun.push(d.counters.dispatches - before);
      }
    } finally {
      timings = await d.stopProfiling();
    }
    await rt.sync(); // surfaces device errors raised by the profiled submits
  } catch (err) {
    timestampsFailed = (err as Error).message.split('\n')[0];
    return undefined;
  }
  if (timings.length !== perRun.reduce((a, n) => a + n, 0)) return undefined;
  const samples: number[] = [];
  let i = 0;
  for (const n of perRun) {
    let ms = 0;
    for (let j = 0; j < n; j++) ms += timings[i++].ms;
    samples.push(ms);
  }
  if (!samples.every((s) => s > 0 && Number.isFinite(s))) {
    timestampsFailed ??= 'GPU timestamps read back as zero';
    return undefined;
  }
  return samples;
}

const MAX_TIMESTAMP_SAMPLES = 63;

/** Times `run` (which records GPU work, no readback); returns the median per-run time. */
export async function timeRuns(run: () => void, opts: TimingOptions = {}): Promise<Timing> {
  const method = opts.method ?? 'auto';
  const batches = opts.batches ?? 7;
  for (let i = 0; i < (opts.warmup ?? 2); i++) run();
  await runtime().sync();
  if (method !== 'wallclock') {
    const s = await timestamps(run, batches);
    if (s) {
      // Short kernels take more samples, up to the wall-clock budget the batches would have
      // had: a few runs of a sub-millisecond kernel are too noisy on a shared machine.
      const budgetMs = batches * (opts.minBatchMs ?? 40);
      const more = Math.min(MAX_TIMESTAMP_SAMPLES, Math.ceil(budgetMs / Math.max(median(s), 1e-3))) - s.length;
      if (more > 0) s.push(...((await timestamps(run, more)) ?? []));
      return { medianMs: median(s), minMs: Math.min(...s), method: 'timestamps', samples: s };
    }
    if (method === 'timestamps') throw new Error('timeRuns: GPU timestamps are unavailable on this device');
  }
  const s = await wallclock(run, batches, opts.minBatchMs ?? 40, opts.maxPerBatch ?? 64);
  return { medianMs: median(s), minMs: Math.min(...s), method: 'wallclock', samples: s };
}
