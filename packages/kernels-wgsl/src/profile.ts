// The kernels' adapter-dependent choices, made once per runtime from its AdapterProfile (the
// tensor package's): the conv2d variant, the weight gradient's split, how batch norm and the
// reductions split, and what the conv2d autotune measured, keyed by problem shape. Kernel code
// reads these rather than asking what the adapter is. Tests and benchmarks steer them through
// setOptions on the runtime's profile, not through module globals.

import { runtime, type Runtime } from '@wgtorch/tensor';
import { SUBGROUP_SIZE, type SubgroupConfig } from './conv2d/subgroup.js';
import type { TileConfig } from './conv2d/tiled.js';

/** The conv2d kernel families: tiled GEMM, or the subgroup kernels where the adapter has subgroups. */
export type Conv2dVariant = 'tiled' | 'subgroup';

/** Overrides of the conv2d kernels' configuration (variant benchmarks and tests). */
export type KernelConfig = Partial<SubgroupConfig> &
  Partial<TileConfig> & {
    /** Weight gradient: about how many workgroups the split reduction should keep busy. */
    splitGroups?: number;
    /**
     * Subgroup variant: true runs the row-window kernel (row-window.ts) for every forward and
     * input gradient it can (also where some stride phases have no taps, 1x1 stride 2); false
     * none. Default: rowWindowPlan's rules.
     */
    rowWindow?: boolean;
    /** The row-window kernel's output rows per tile (0: by image width). */
    tileRows?: number;
    /**
     * Subgroup variant: false keeps stride-1 input gradients onto at most 4 channels off the
     * lane-pixel kernel (lane-pixels.ts).
     */
    lanePixels?: boolean;
    /**
     * Subgroup variant: true runs the pointwise kernel (pointwise-input-grad.ts) for every 1x1
     * input gradient it can, false none. Default: strided ones onto at most 16 channels.
     */
    pointwise?: boolean;
    /** The pointwise kernel's most dy pixels per lane. */
    pointwisePixels?: number;
  };

/** Choices forced by tests and benchmarks; each unset one is the profile's own. */
export interface KernelOptions {
  /** The conv2d (and matmul) variant, measured or not: tests and benchmarks compare them. */
  conv2dVariant?: Conv2dVariant;
  /** The conv2d kernels' configuration. */
  conv2dConfig?: KernelConfig;
  /** Batch norm: true takes the split reductions (the GPU path) on any adapter, in a few chunks. */
  batchNormSplit?: boolean;
  /** Batch norm: false keeps the unsplit reductions from also applying the result. */
  batchNormFused?: boolean;
  /** Pooling: false keeps avgPool2dBackward off its block kernel. */
  poolBlocks?: boolean;
}

/** What the conv2d autotune measured for one problem shape. */
export interface Conv2dTuning {
  chosen: Conv2dVariant;
  /** Median ms per variant timed. */
  ms: Partial<Record<Conv2dVariant, number>>;
}

/** The key of a convolution's shape in KernelProfile.conv2dTuning, e.g. 'x4x16x32x32 w16x16x3x3 s1 p1'. */
export function conv2dShapeKey(x: readonly number[], w: readonly number[], stride: number, padding: number): string {
  return `x${x.join('x')} w${w.join('x')} s${stride} p${padding}`;
}

/** The shape the autotune times (a ResNet20 convolution at batch 4); shapes it did not time use its result. */
export const CONV2D_PROBE = { x: [4, 16, 32, 32], w: [16, 16, 3, 3], stride: 1, padding: 1 } as const;
export const CONV2D_PROBE_KEY = conv2dShapeKey(
  CONV2D_PROBE.x,
  CONV2D_PROBE.w,
  CONV2D_PROBE.stride,
  CONV2D_PROBE.padding,
);

/** Kernel choices for the current adapter (conv2d variant and tuning per shape), made once per runtime. */
export class KernelProfile {
  /** A CPU adapter (lavapipe: 2 threads): few, long workgroups. */
  readonly software: boolean;
  /** The conv2d variants this adapter runs: the subgroup kernels need subgroups exactly SUBGROUP_SIZE wide. */
  readonly conv2dVariants: readonly Conv2dVariant[];
  /** The variant where nothing was measured: subgroup kernels on CPU adapters that run them, else tiled. */
  readonly conv2dRuleVariant: Conv2dVariant;
  /**
   * About how many workgroups the weight gradient's split reduction keeps busy: lavapipe runs
   * two threads and wants few, long workgroups; a GPU wants thousands of threads in flight.
   */
  readonly weightGradSplitGroups: number;
  /** Batch norm: each channel's reduction split over 256-wide workgroups (GPUs), or one 16-wide one (CPU). */
  readonly batchNormSplit: boolean;
  /** Batch norm: the unsplit kernels may also apply the result (they bind 9 storage buffers). */
  readonly batchNormFusable: boolean;
  /** What the conv2d autotune measured, by conv2dShapeKey. */
  readonly conv2dTuning = new Map<string, Conv2dTuning>();
  private opts: Readonly<KernelOptions> = {};
  /** Plans derived from the profile and options (conv2d's), dropped when the options change. */
  private readonly memo = new Map<string, unknown>();

  constructor(rt: Runtime) {
    const { software, subgroupSize } = rt.profile;
    this.software = software;
    this.conv2dVariants = subgroupSize === SUBGROUP_SIZE ? ['tiled', 'subgroup'] : ['tiled'];
    this.conv2dRuleVariant = this.conv2dVariants.includes('subgroup') && software ? 'subgroup' : 'tiled';
    this.weightGradSplitGroups = software ? 48 : 2048;
    this.batchNormSplit = !software;
    this.batchNormFusable = rt.limits.maxStorageBuffersPerShaderStage >= 9;
  }

  get options(): Readonly<KernelOptions> {
    return this.opts;
  }

  /** Replaces the options (tests, benchmarks) and returns the previous ones, to restore. */
  setOptions(options: KernelOptions): KernelOptions {
    const prev = this.opts;
    this.opts = { ...options };
    this.memo.clear();
    return prev;
  }

  /** The value under `key`, built on the first call under the current options. */
  memoize<T>(key: string, build: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const v = build();
    this.memo.set(key, v);
    return v;
  }

  /**
   * The conv2d variant for a shape (conv2dShapeKey): forced by the options, else what the
   * autotune measured for that shape, else for the probe shape, else the rule's.
   */
  conv2dVariant(shapeKey?: string): Conv2dVariant {
    if (this.opts.conv2dVariant) return this.opts.conv2dVariant;
    const tuned =
      (shapeKey !== undefined ? this.conv2dTuning.get(shapeKey) : undefined) ?? this.conv2dTuning.get(CONV2D_PROBE_KEY);
    return tuned?.chosen ?? this.conv2dRuleVariant;
  }

  /**
   * How many splits a tree reduction of O outputs over R terms takes: lavapipe (2 threads)
   * wants few, long workgroups; a GPU wants hundreds of workgroups.
   */
  reduceSplits(O: number, R: number): number {
    if (this.software) return O < 64 && R > 32768 ? Math.min(256, Math.ceil(R / 16384)) : 1;
    return O < 512 && R > 4096 ? Math.min(256, Math.ceil(512 / O), Math.ceil(R / 2048)) : 1;
  }
}

const profiles = new WeakMap<Runtime, KernelProfile>();

/** The current runtime's kernel profile, made on first use. */
export function kernelProfile(): KernelProfile {
  const rt = runtime();
  let p = profiles.get(rt);
  if (!p) profiles.set(rt, (p = new KernelProfile(rt)));
  return p;
}
