// Which implicit-GEMM kernel runs on this adapter, and the memoized kernels per configuration.
//
// - 'tiled' (tiled.ts): classic workgroup-memory tiling; what real GPUs want.
// - 'subgroup' (subgroup.ts): no workgroup memory; each invocation owns a register block and
//   the subgroup shares operand rows through subgroupBroadcast. On lavapipe (one invocation per
//   SIMD lane, workgroup memory no cheaper than a storage load) this is several times faster.

import { runtime, type KernelSource } from '@wgtorch/tensor';
import { problemKey, type GemmProblem } from './gemm.js';
import { DEFAULT_TILE, gemmRows, splitReduceKernel, tiledKernel } from './tiled.js';

export type Conv2dVariant = 'tiled' | 'subgroup';

export interface GemmPlan {
  source: KernelSource;
  rows: number;
  rowsPerGroup: number;
  colsPerGroup: number;
}

let forced: Conv2dVariant | undefined;

/** Forces a variant (tests and benchmarks compare them); undefined restores the automatic choice. */
export function setConv2dVariant(v: Conv2dVariant | undefined): void {
  forced = v;
}

/** The variant for the current adapter. */
export function conv2dVariant(): Conv2dVariant {
  if (forced) return forced;
  return 'tiled';
}

const plans = new Map<string, GemmPlan>();

export function gemmPlan(name: string, p: GemmProblem, variant: Conv2dVariant): GemmPlan {
  const key = `${variant}|${name}|${problemKey(p)}`;
  let plan = plans.get(key);
  if (!plan) {
    const cfg = DEFAULT_TILE;
    plan = { source: tiledKernel(name, p, cfg), rows: gemmRows(p), rowsPerGroup: cfg.tm, colsPerGroup: cfg.tn };
    plans.set(key, plan);
  }
  return plan;
}

const reducers = new Map<string, KernelSource>();

export function splitReduce(name: string): KernelSource {
  let k = reducers.get(name);
  if (!k) reducers.set(name, (k = splitReduceKernel(`${name}.reduce`)));
  return k;
}



/** The variants this adapter can run (the subgroup one needs 'subgroups' and subgroups of 8+). */
export function availableVariants(): Conv2dVariant[] {
  return ['tiled'];
}

export function subgroupsUsable(): boolean {
  const rt = runtime();
  const min = rt.report.subgroupMinSize;
  return rt.hasFeature('subgroups') && (min === undefined || min >= SUBGROUP_LANES);
}

/** Lanes the subgroup kernels assume: each workgroup is one or more whole subgroups of this size. */
export const SUBGROUP_LANES = 8;
