// Which implicit-GEMM kernel runs on this adapter, and the memoized kernels per configuration.
//
// - 'tiled' (tiled.ts): classic workgroup-memory tiling; what real GPUs want.
// - 'subgroup' (subgroup.ts): no workgroup memory; each invocation owns a register block and
//   the subgroup shares operand rows through subgroupBroadcast. Chosen on lavapipe.
// The runtime's kernel profile (../profile.ts) picks by rule; where an adapter can run both,
// autotune.ts times them at startup (the trainer and `pnpm bench`) and its choice replaces the rule's.
//
// Why each choice: the measurements are in benchmarks/results/NOTES.md (conv2d sections).

import type { AnyKernel } from '../common/kernel.js';
import { kernelProfile, type Conv2dVariant, type KernelConfig } from '../profile.js';
import { forwardProblem, inputGradProblems, problemKey, type ConvLike, type GemmProblem } from './gemm.js';
import type { ConvGeometry } from './geometry.js';
import { LANE_PIXELS, lanePixelsApply, lanePixelsGroups, lanePixelsKernel } from './lane-pixels.js';
import {
  POINTWISE_INPUT_GRAD,
  pointwiseInputGradApply,
  pointwiseInputGradGroups,
  pointwiseInputGradKernel,
  pointwiseInputGradLanes,
} from './pointwise-input-grad.js';
import {
  rowWindowColGroups,
  rowWindowDims,
  rowWindowKernel,
  rowWindowTile,
  type RowWindowConfig,
  type RowWindowDir,
} from './row-window.js';
import { packedChunkRows } from './packed-weights.js';
import {
  DEFAULT_SUBGROUP,
  SUBGROUP_SIZE,
  subgroupKernel,
  weightGradTileCols,
  windowTiles,
  type SubgroupConfig,
} from './subgroup.js';
import { weightChunks, type WeightChunks } from './weight-chunks.js';
import { DEFAULT_TILE, gemmColsPerImage, gemmRows, tiledKernel, type TileConfig } from './tiled.js';

export type { Conv2dVariant, KernelConfig };

export interface GemmPlan {
  kernel: AnyKernel;
  /** > 0: the kernel reads packed weights (packed-weights.ts) from uniform bindings of this many rows. */
  uboRows: number;
  /** Where uboRows > 0: how a dispatch binds the chunks of packed rows (weight-chunks.ts). */
  chunks?: WeightChunks;
  rows: number;
  rowsPerGroup: number;
  colsPerGroup: number;
  /** Weight grad: reduction units per image (the kernel's kchunk/ktotal count these). */
  unitsPerImage: number;
  /** Workgroups along x for a batch of n. */
  colGroups(n: number): number;
}

/** The variant for the current adapter and options (KernelProfile.conv2dVariant). */
export function conv2dVariant(): Conv2dVariant {
  return kernelProfile().conv2dVariant();
}

/** The conv2d kernel configuration forced by the options, if any. */
function override(): KernelConfig | undefined {
  return kernelProfile().options.conv2dConfig;
}

function pick<T extends object>(dflt: T): T {
  const out = { ...dflt };
  for (const k of Object.keys(dflt) as (keyof T)[]) {
    const v = (override() as Record<string, unknown> | undefined)?.[k as string];
    if (v !== undefined) out[k] = v as T[keyof T];
  }
  return out;
}

/**
 * About how many workgroups the weight gradient's split reduction should keep busy
 * (KernelProfile.weightGradSplitGroups).
 */
export function weightGradSplitGroups(): number {
  return override()?.splitGroups ?? kernelProfile().weightGradSplitGroups;
}

/** The configuration of `variant`'s kernel for a problem. */
export function kernelConfigFor(p: GemmProblem, variant: Conv2dVariant): SubgroupConfig | TileConfig {
  if (variant !== 'subgroup') return pick(tileConfigFor(gemmRows(p)));
  const rows = gemmRows(p);
  // The row-segment window pays where one gathered segment serves several taps: kernels wider
  // than 1 read at source stride 1 (every stride-1 forward, every input-gradient phase).
  // Up to 8 rows take one row per lane; strided forwards with rows in 32s take 4 rows x 32 columns.
  if (p.kind === 'convlike' && p.kw > 1) {
    const block =
      p.ax !== 1 && rows % (4 * SUBGROUP_SIZE) === 0 ? { rm: 4, tc: 32 } : { rm: rows > SUBGROUP_SIZE ? 2 : 1, tc: 32 };
    const cfg = pick({ ...DEFAULT_SUBGROUP, ...block, sgs: 1, window: true, uboRows: 1 });
    // uboRows: 0 turns the packed uniform weights off; any other value asks for them where they apply.
    cfg.uboRows = cfg.uboRows > 0 && cfg.window ? packedChunkRows(p, SUBGROUP_SIZE * cfg.rm) : 0;
    // Strided reads waste half of each gathered segment: the window pays there only with the
    // cheap uniform weights.
    if (cfg.uboRows > 0 || (p.ax === 1 && p.tx.count > 1)) return cfg;
  }
  if (p.kind === 'wgrad') return pick(weightGradConfig(p.g));
  return pick(subgroupConfigFor(rows));
}

/**
 * The weight-gradient block on lavapipe: kernels wider than 1 take the pair window
 * (SubgroupConfig.wpairs) with dy read as vec4; at stride 1, 12-16 pairs a tile (the count
 * wasting the fewest columns) gathered flat (SubgroupConfig.flatSeg); output channels in 32s
 * take 4 rows a lane; otherwise the plain blocks, with one subgroup where there are fewer column
 * tiles than subgroups.
 */
export function weightGradConfig(g: ConvGeometry): SubgroupConfig {
  const pairs = g.cin * g.kh;
  // Output channels in 32s take 4 rows a lane (48-144 accumulators; spills cost less than
  // the input gathers each row shares).
  const rm = g.cout % (4 * SUBGROUP_SIZE) === 0 ? 4 : 2;
  if (g.kw >= 2 && g.sw === 1) {
    let wpairs = Math.min(pairs, 16);
    const waste = (q: number) => Math.ceil(pairs / q) * q - pairs;
    for (let q = 15; q >= 12 && pairs > 16; q--) if (waste(q) < waste(wpairs)) wpairs = q;
    return { ...DEFAULT_SUBGROUP, rm, tc: 32, sgs: 1, wpairs, avec: true, flatSeg: true };
  }
  if (g.kw >= 2 && g.cout % (4 * SUBGROUP_SIZE) === 0) {
    return { ...DEFAULT_SUBGROUP, rm: 4, tc: 32, sgs: 1, wpairs: Math.min(pairs, 8), avec: true };
  }
  const c = subgroupConfigFor(g.cout);
  return Math.ceil((g.cin * g.kh * g.kw) / c.tc) < c.sgs ? { ...c, sgs: 1 } : c;
}

/**
 * The tiled kernel's tile for a GEMM with `rows` rows (chosen on an NVIDIA H100;
 * benchmarks/results/h100-tiles.txt): 16 rows or fewer take 16 x 128, 64 rows 64 x 64, in
 * between 32 x 64.
 */
export function tileConfigFor(rows: number): TileConfig {
  if (rows <= 16) return { tm: 16, tn: 128, tk: 16, rm: 2, rn: 8 };
  if (rows >= 64) return { tm: 64, tn: 64, tk: 16, rm: 4, rn: 4 };
  return DEFAULT_TILE;
}

/**
 * The subgroup kernel's block for a GEMM with `rows` rows: 64 accumulators per lane beat 32
 * despite register pressure, as long as no rows are wasted: 4 rows x 16 columns per lane when
 * the rows come in 32s, else 2 x 32; tiny row counts (the stem's input gradient) take 1 x 32.
 */
export function subgroupConfigFor(rows: number): SubgroupConfig {
  if (rows <= SUBGROUP_SIZE) return { ...DEFAULT_SUBGROUP, rm: 1, tc: 32, sgs: 1 };
  if (rows % (4 * SUBGROUP_SIZE) === 0) return { ...DEFAULT_SUBGROUP, rm: 4, tc: 16, sgs: 2 };
  return { ...DEFAULT_SUBGROUP, rm: 2, tc: 32, sgs: 1 };
}

/** GEMM columns for a batch of n. */
function gemmCols(p: GemmProblem, n: number): number {
  return p.kind === 'wgrad' ? gemmColsPerImage(p) : n * gemmColsPerImage(p);
}

const plans = new Map<string, GemmPlan>();

/**
 * The plan for (variant, kernel, problem) under the current options: looked up on every conv call, so the
 * configuration is worked out once (the profile memoizes it).
 */
export function gemmPlan(name: string, p: GemmProblem, variant: Conv2dVariant): GemmPlan {
  return kernelProfile().memoize(`gemm|${variant}|${name}|${problemKey(p)}`, () => buildGemmPlan(name, p, variant));
}

function buildGemmPlan(name: string, p: GemmProblem, variant: Conv2dVariant): GemmPlan {
  const cfg = kernelConfigFor(p, variant);
  const key = `${variant}|${name}|${problemKey(p)}|${JSON.stringify(cfg)}`;
  let plan = plans.get(key);
  if (!plan) {
    const rows = gemmRows(p);
    const pixels = p.kind === 'wgrad' ? p.g.ho * p.g.wo : 1;
    const rowUnits = p.kind === 'wgrad' ? p.g.ho : 1; // whole output rows
    if (variant === 'subgroup') {
      const c = cfg as SubgroupConfig;
      const window = c.window && p.kind === 'convlike';
      const tc = p.kind === 'wgrad' ? weightGradTileCols(p, c) : c.tc;
      const colGroups = (n: number) =>
        window ? Math.ceil(windowTiles(p as ConvLike, c.tc, n) / c.sgs) : Math.ceil(gemmCols(p, n) / (tc * c.sgs));
      const uboRows = window ? c.uboRows : 0;
      plan = {
        kernel: subgroupKernel(name, p, c),
        uboRows,
        chunks: uboRows > 0 ? weightChunks(rows, uboRows, SUBGROUP_SIZE * c.rm) : undefined,
        rows,
        rowsPerGroup: SUBGROUP_SIZE * c.rm,
        colsPerGroup: tc * c.sgs,
        unitsPerImage: rowUnits,
        colGroups,
      };
    } else {
      const c = cfg as TileConfig;
      const colGroups = (n: number) => Math.ceil(gemmCols(p, n) / c.tn);
      plan = {
        kernel: tiledKernel(name, p, c),
        uboRows: 0,
        rows,
        rowsPerGroup: c.tm,
        colsPerGroup: c.tn,
        unitsPerImage: pixels,
        colGroups,
      };
    }
    plans.set(key, plan);
  }
  return plan;
}

export interface RowWindowPlan {
  kernel: AnyKernel;
  config: RowWindowConfig;
  /** The GEMM whose layout the packed weights take (packWeights). */
  pack: ConvLike;
  /** How a dispatch binds the chunks of packed rows (weight-chunks.ts). */
  chunks: WeightChunks;
  rows: number;
  colGroups(n: number): number;
}

/** The plan memoized under `key` by the profile (undefined: none applies). */
function cachedPlan<P>(key: string, build: () => P | undefined): P | undefined {
  return kernelProfile().memoize(key, build);
}

export interface LanePixelsPlan {
  kernel: AnyKernel;
  pack: ConvLike;
  groups(n: number): number;
}

/** The lane-pixel kernel's plan for an input gradient (lane-pixels.ts), or undefined where it does not apply. */
export function lanePixelsPlan(name: string, g: ConvGeometry): LanePixelsPlan | undefined {
  if (conv2dVariant() !== 'subgroup' || override()?.lanePixels === false || !lanePixelsApply(g)) return undefined;
  return cachedPlan(`lanePixels|${name}|${problemKey({ kind: 'wgrad', g })}`, () => ({
    kernel: lanePixelsKernel(name, g, LANE_PIXELS),
    pack: inputGradProblems(g)[0],
    groups: (n) => lanePixelsGroups(g, LANE_PIXELS, n),
  }));
}

export interface PointwisePlan {
  kernel: ReturnType<typeof pointwiseInputGradKernel>;
  /** Whether dx has pixels no dy pixel lands on (a stride over 1), which the launcher clears. */
  strided: boolean;
  /** Lanes with work for a batch of n. */
  lanes(n: number): number;
  groups(n: number): number;
}

/**
 * The pointwise kernel's plan for a 1x1 input gradient (pointwise-input-grad.ts), or undefined
 * where the GEMM kernels run instead. By default it takes strided ones onto at most 16 dx
 * channels (ResNet20's 16->32 shortcut; the 32->64 one tied with the GEMM).
 */
export function pointwiseInputGradPlan(name: string, g: ConvGeometry): PointwisePlan | undefined {
  if (conv2dVariant() !== 'subgroup' || override()?.pointwise === false) return undefined;
  return cachedPlan(`pointwise|${name}|${problemKey({ kind: 'wgrad', g })}`, () => {
    const cfg = { ...POINTWISE_INPUT_GRAD, px: override()?.pointwisePixels ?? POINTWISE_INPUT_GRAD.px };
    const strided = g.sh > 1 || g.sw > 1;
    if (!pointwiseInputGradApply(g, cfg) || !(override()?.pointwise ?? (strided && g.cin <= 16))) return undefined;
    const kernel = pointwiseInputGradKernel(name, g, cfg);
    return {
      kernel,
      strided,
      lanes: (n: number) => pointwiseInputGradLanes(g, cfg, n),
      groups: (n: number) => pointwiseInputGradGroups(g, cfg, n),
    };
  });
}

/**
 * The row-window kernel's plan for a forward or input gradient (dir 'transposed'), or undefined
 * where the GEMM kernels run instead: other variants, kernels wider than a packed row, no tile
 * of whole stride phases, 1x1 kernels (where it measured slower) and forwards from at most 3
 * channels.
 */
export function rowWindowPlan(name: string, dir: RowWindowDir, g: ConvGeometry): RowWindowPlan | undefined {
  if (conv2dVariant() !== 'subgroup') return undefined;
  return cachedPlan(`rowWindow|${name}|${dir}|${problemKey({ kind: 'wgrad', g })}`, () =>
    buildRowWindowPlan(name, dir, g),
  );
}

function buildRowWindowPlan(name: string, dir: RowWindowDir, g: ConvGeometry): RowWindowPlan | undefined {
  const { m, c } = rowWindowDims(dir, g);
  const strided = g.sh > 1 || g.sw > 1;
  const wide = g.kh > 1 && g.kw > 1;
  // Forwards from at most 3 channels (a stem) stay on the GEMM kernels: the row window was
  // faster there, but its summation order moved the examples' MobileNet gradients away from
  // PyTorch's (NOTES.md, "MFU: window gathers").
  const stem = dir === 'forward' && c <= 3;
  const byDefault = wide && !stem && (!strided || dir === 'forward' || (g.kh >= g.sh && g.kw >= g.sw));
  if (!(override()?.rowWindow ?? byDefault)) return undefined;
  const rm = m <= SUBGROUP_SIZE ? 1 : 2;
  // Strided input gradients keep 128-pixel tiles: 256 were slightly faster but took almost 4x
  // as long to compile on a machine's first run.
  const dflt = strided && dir === 'transposed' ? { tc: 128, tileRows: 0 } : { tc: rm === 1 ? 128 : 64, tileRows: 8 };
  const cfg: RowWindowConfig = pick({ rm, ...dflt, sgs: 1, uboRows: 1 });
  const pack = dir === 'forward' ? forwardProblem(g) : inputGradProblems(g)[0];
  cfg.uboRows = packedChunkRows(pack, SUBGROUP_SIZE * cfg.rm);
  if (cfg.uboRows === 0 || !rowWindowTile(dir, g, cfg)) return undefined;
  return {
    kernel: rowWindowKernel(name, dir, g, pack, cfg),
    config: cfg,
    pack,
    chunks: weightChunks(pack.m, cfg.uboRows, SUBGROUP_SIZE * cfg.rm),
    rows: pack.m,
    colGroups: (n) => rowWindowColGroups(dir, g, cfg, n),
  };
}

/** The variants this adapter can run (KernelProfile.conv2dVariants). */
export function availableVariants(): Conv2dVariant[] {
  return [...kernelProfile().conv2dVariants];
}
