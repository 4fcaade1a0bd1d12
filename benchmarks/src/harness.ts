// What `pnpm bench` measures and prints, and the context it hands to the end-to-end benchmark
// (benchmarks/src/e2e.ts, optional): `export async function runEndToEnd(ctx: BenchContext)`.

import type { TimingOptions } from '@wgtorch/kernels-wgsl';

/** One measurement. Throughput rows carry gflops (ALU-bound) or gbs (bandwidth-bound). */
export interface BenchRow {
  /** Dotted kernel name, e.g. 'conv2d.forward', or an end-to-end name such as 'e2e.trainStep'. */
  kernel: string;
  shape: string;
  medianMs: number;
  gflops?: number;
  gbs?: number;
  /** gflops / ALU ceiling or gbs / bandwidth ceiling, from the same run. */
  fraction?: number;
  /** The ceiling (GFLOP/s or GB/s) `fraction` was taken against, when re-measured for this row. */
  ceiling?: number;
  /** Other figures (e.g. images per second), printed and compared like the rest. */
  extra?: Record<string, number>;
  /** How it was timed ('timestamps' or 'wallclock'). */
  method?: string;
  error?: string;
}

export interface Ceilings {
  aluGflops: number;
  bandwidthGBs: number;
}

export interface BenchReport {
  adapter: string;
  ceilings: Ceilings;
  rows: BenchRow[];
  /** The end-to-end figures (benchmarks/src/e2e.ts). */
  endToEnd?: EndToEndReport;
  date?: string;
}

/** What the end-to-end benchmark measures (`endToEnd` in the --json file). */
export interface EndToEndReport {
  trainImagesPerSec: number;
  /** pnpm train's own loop (trainSegment, default logging), 100 steps at batch 128; aim: within 10% of the step row. */
  trainerLoopImagesPerSec?: number;
  /** Model FLOP utilization: images/s x 3 x 81.6 MFLOP / the ALU ceiling of the same run. */
  mfu: number;
  /** GPU dispatches recorded by one training step (median over the timed steps). */
  dispatchesPerStep: number;
  /**
   * Milliseconds the JavaScript thread spends building and submitting one step at batch 128
   * (median) as the trainer does it (a captured step replayed, since hostMsPerStepEager is
   * reported): the batch, the recording and submit(), waits excluded, in `hostClock`.
   */
  hostMsPerStep: number;
  /** The same at batch 8. */
  hostMsPerStepBatch8: number;
  /** hostMsPerStep and hostMsPerStepBatch8 with every step recorded anew (no captured step; older files: absent). */
  hostMsPerStepEager?: number;
  hostMsPerStepBatch8Eager?: number;
  /**
   * How host ms were timed: now the wall time of steps recorded while the adapter is idle, so
   * that nothing preempts the thread (older files: 'thread CPU time' from Linux's schedstat, whose
   * figure for a running thread advances only at scheduler ticks, or pipelined 'wall time').
   */
  hostClock?: 'wall time, adapter idle' | 'thread CPU time' | 'wall time';
  /** Training images/s at batch 8, where the fixed cost of a step dominates. */
  trainImagesPerSecBatch8: number;
  inferImagesPerSec: number;
  coldStartMs: number;
  /** Cold start with the driver's on-disk shader cache empty (left out by --quick). */
  coldStartEmptyCacheMs?: number;
  memoryBytesAt100: number;
  memoryBytesAt1000: number;
  /** Batch size of the memory check (smaller than 128 on software adapters, to keep the run short). */
  memoryBatch: number;
  /** GPU buffers the pool had to create between step 100 and step 1000 (0: no per-step allocation). */
  poolMissesAfter100: number;
  /** Milliseconds per kernel in one training step (GPU timestamps), largest first. */
  breakdown: { kernel: string; ms: number; dispatches: number }[];
}

/** Prints each end-to-end figure beside a saved run's (ratios > 1 are better). */
export function printEndToEndComparison(now: EndToEndReport, base: EndToEndReport): void {
  const higher: (keyof EndToEndReport)[] = [
    'trainImagesPerSec',
    'trainerLoopImagesPerSec',
    'trainImagesPerSecBatch8',
    'mfu',
    'inferImagesPerSec',
  ];
  const lower: (keyof EndToEndReport)[] = [
    'dispatchesPerStep',
    'hostMsPerStep',
    'hostMsPerStepBatch8',
    'hostMsPerStepEager',
    'hostMsPerStepBatch8Eager',
    'coldStartMs',
    'coldStartEmptyCacheMs',
    'memoryBytesAt1000',
  ];
  console.log('end-to-end vs base:');
  const clocks = [now.hostClock ?? 'wall time', base.hostClock ?? 'wall time'];
  if (clocks[0] !== clocks[1]) console.log(`  (host ms: now ${clocks[0]}, base ${clocks[1]}; not comparable)`);
  for (const k of [...higher, ...lower]) {
    const a = now[k] as number;
    const b = base[k] as number;
    if (typeof a !== 'number' || typeof b !== 'number' || !b) continue;
    const ratio = higher.includes(k) ? a / b : b / a;
    console.log(
      `  ${String(k).padEnd(22)} ${a.toPrecision(4).padStart(12)}  ` +
        `base ${b.toPrecision(4).padStart(12)}  x${ratio.toFixed(2)}`,
    );
  }
}

/** Handed to `runEndToEnd`; rows added here are printed, saved with --json and compared. */
export interface BenchContext {
  adapter: string;
  ceilings: Ceilings;
  /** --quick: fewer repetitions. */
  quick: boolean;
  /** --filter SUBSTR, if given: run only what matches. */
  filter: string | undefined;
  /** Command-line arguments after the script name. */
  argv: readonly string[];
  /** Timing options matching --quick, for timeRuns(). */
  timing: TimingOptions;
  /** Times `run` (records GPU work, no readback) with the harness's settings: median ms. */
  time(run: () => void, opts?: TimingOptions): Promise<number>;
  /** Adds a row (printed at once). Use `fraction()` to fill `fraction` from gflops/gbs. */
  addRow(row: BenchRow): void;
  fraction(row: { gflops?: number; gbs?: number }): number | undefined;
}

/** What benchmarks/src/e2e.ts exports. */
export interface EndToEndModule {
  runEndToEnd(ctx: BenchContext): Promise<EndToEndReport>;
}

export function fractionOf(c: Ceilings, row: { gflops?: number; gbs?: number }): number | undefined {
  if (row.gflops !== undefined) return row.gflops / c.aluGflops;
  if (row.gbs !== undefined) return row.gbs / c.bandwidthGBs;
  return undefined;
}

const fmt = (v: number | undefined, digits = 2) =>
  v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(digits);

export const TABLE_HEADER =
  `${'kernel'.padEnd(26)} ${'shape'.padEnd(30)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(8)} ` +
  `${'GB/s'.padStart(7)} ${'ceil%'.padStart(6)} ${'(ceiling)'.padStart(9)}`;

export function formatRow(r: BenchRow, base?: BenchRow): string {
  if (r.error) return `${r.kernel.padEnd(26)} ${r.shape.padEnd(30)} ERROR ${r.error}`;
  const percent = r.fraction === undefined ? '-' : (100 * r.fraction).toFixed(1);
  const ceiling = r.ceiling === undefined ? '' : `(${fmt(r.ceiling, 1)})`;
  let s =
    `${r.kernel.padEnd(26)} ${r.shape.padEnd(30)} ${r.medianMs.toFixed(3).padStart(9)} ${fmt(r.gflops).padStart(8)} ` +
    `${fmt(r.gbs).padStart(7)} ${percent.padStart(6)} ${ceiling.padStart(9)}`;
  if (r.extra)
    s +=
      ' ' +
      Object.entries(r.extra)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join(' ');
  if (base && !base.error) {
    // Ratios > 1 mean better than the base: time as base/now, throughputs as now/base.
    const parts = [`time x${(base.medianMs / r.medianMs).toFixed(2)}`];
    if (r.fraction !== undefined && base.fraction !== undefined)
      parts.push(`ceil% x${(r.fraction / base.fraction).toFixed(2)}`);
    for (const [k, v] of Object.entries(r.extra ?? {}))
      if (base.extra?.[k]) parts.push(`${k} x${(v / base.extra[k]).toFixed(2)}`);
    s += `   vs base: ${parts.join(', ')}`;
  } else if (base === undefined && compareActive) {
    s += '   vs base: (new)';
  }
  return s;
}

let compareActive = false;
export function setCompareActive(v: boolean): void {
  compareActive = v;
}

export function rowKey(r: { kernel: string; shape: string }): string {
  return `${r.kernel}\u0000${r.shape}`;
}
