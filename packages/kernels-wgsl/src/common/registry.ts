// The kernel registry: every kernel registers its name, its benchmark cases and what it
// measures, so `pnpm bench` and the tests enumerate kernels without a hand-kept list.

import type { Tensor } from '@wgtorch/tensor';

/** One benchmark case: `setup` makes inputs, `run` records one launch (no readback). */
export interface BenchCase {
  /** e.g. 'N128 C16->16 32x32 k3 s1' */
  shape: string;
  /** FLOPs of one run (for GFLOP/s), or 0 when bandwidth-bound. */
  flops: number;
  /** Bytes moved by one run (for GB/s), used when flops is 0. */
  bytes: number;
  setup(): { run(): void; dispose(): void };
}

/** A kernel family in the benchmark registry: its name and benchmark cases. */
export interface KernelEntry {
  /** Dotted name, e.g. 'conv2d.forward', 'batchnorm.backward'. */
  name: string;
  /** Benchmark cases at ResNet20's shapes (batch 128). */
  benchCases?: () => BenchCase[];
}

const entries = new Map<string, KernelEntry>();

/** Adds (or replaces, by name) a kernel family in the benchmark registry. */
export function registerKernel(entry: KernelEntry): void {
  entries.set(entry.name, entry);
}

/**
 * Every kernel family registered so far, in registration order (empty until something registers;
 * `pnpm bench` does).
 */
export function listKernels(): KernelEntry[] {
  return [...entries.values()];
}

export type { Tensor };
