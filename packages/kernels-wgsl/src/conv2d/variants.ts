// Which implicit-GEMM kernel runs on this adapter, and the memoized kernels per configuration.
//
// - 'tiled' (tiled.ts): classic workgroup-memory tiling; what real GPUs want.
// - 'subgroup' (subgroup.ts): no workgroup memory; each invocation owns a register block and
//   the subgroup shares operand rows through subgroupBroadcast. On lavapipe (one invocation per
//   SIMD lane, workgroup memory no cheaper than a storage load) this is several times faster.

import { runtime, type KernelSource } from '@wgtorch/tensor';
import { problemKey, type GemmProblem } from './gemm.js';
import { DEFAULT_SUBGROUP, SUBGROUP_SIZE, subgroupKernel } from './subgroup.js';
import { DEFAULT_TILE, gemmRows, splitReduceKernel, tiledKernel } from './tiled.js';

export type Conv2dVariant = 'tiled' | 'subgroup';

export interface GemmPlan {
  source: KernelSource;
  rows: number;
  rowsPerGroup: number;
  colsPerGroup: number;
  /** Weight grad: reduction units per image (the kernel's kchunk/ktotal count these). */
  unitsPerImage: number;
}

let forced: Conv2dVariant | undefined;
let chosen: Conv2dVariant | undefined;

/** Forces a variant (tests and benchmarks compare them); undefined restores the automatic choice. */
export function setConv2dVariant(v: Conv2dVariant | undefined): void {
  forced = v;
}

/** The variant for the current adapter. */
export function conv2dVariant(): Conv2dVariant {
  if (forced) return forced;
  return (chosen ??= subgroupsUsable() && runtime().report.isSoftware ? 'subgroup' : 'tiled');
}

const plans = new Map<string, GemmPlan>();

export function gemmPlan(name: string, p: GemmProblem, variant: Conv2dVariant): GemmPlan {
  const key = `${variant}|${name}|${problemKey(p)}`;
  let plan = plans.get(key);
  if (!plan) {
    const rows = gemmRows(p);
    const pixels = p.kind === 'wgrad' ? p.g.ho * p.g.wo : 1;
    if (variant === 'subgroup') {
      const cfg = DEFAULT_SUBGROUP;
      const unitsPerImage = p.kind === 'wgrad' ? p.g.ho : 1; // whole output rows
      plan = { source: subgroupKernel(name, p, cfg), rows, rowsPerGroup: SUBGROUP_SIZE * cfg.rm, colsPerGroup: cfg.tc * cfg.sgs, unitsPerImage };
    } else {
      const cfg = DEFAULT_TILE;
      plan = { source: tiledKernel(name, p, cfg), rows, rowsPerGroup: cfg.tm, colsPerGroup: cfg.tn, unitsPerImage: pixels };
    }
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
  return subgroupsUsable() ? ['tiled', 'subgroup'] : ['tiled'];
}

export function subgroupsUsable(): boolean {
  const rt = runtime();
  const { subgroupMinSize: min, subgroupMaxSize: max } = rt.report;
  // Several subgroups share a workgroup, so the subgroup size must be exactly 8.
  return rt.hasFeature('subgroups') && ((min === SUBGROUP_SIZE && max === SUBGROUP_SIZE) || (min === undefined && rt.report.isSoftware));
}
