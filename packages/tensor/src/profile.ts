// What the adapter is, decided once per runtime: the only place that reads the adapter report to
// choose between CPU and GPU behaviour. Kernel-level choices build on it (kernels-wgsl's profile()).

/** What the profile reads of device.ts's AdapterReport. */
interface ReportedAdapter {
  isSoftware: boolean;
  features: readonly string[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** The adapter-dependent choices of a runtime, made once when it is created. */
export interface AdapterProfile {
  /** A CPU implementation (lavapipe, SwiftShader): few, long workgroups and one submit in flight. */
  readonly software: boolean;
  /**
   * The width of every subgroup where the device has the 'subgroups' feature and the width is
   * fixed: the reported one where the smallest and largest agree, else 8 on a software adapter
   * that reports none (lavapipe's 8-wide SIMD); undefined otherwise.
   */
  readonly subgroupSize: number | undefined;
  /** Submits a SubmitPacer lets in flight by default: 1 on CPU adapters, 2 on GPUs. */
  readonly submitDepth: number;
}

/** The profile of an adapter described by `report`. */
export function adapterProfile(report: ReportedAdapter): AdapterProfile {
  const software = report.isSoftware;
  const { subgroupMinSize: min, subgroupMaxSize: max } = report;
  const fixed = min !== undefined && min === max ? min : min === undefined && software ? 8 : undefined;
  return {
    software,
    subgroupSize: report.features.includes('subgroups') ? fixed : undefined,
    // On a GPU, where recording a step costs about as much as running it, a second step queued
    // behind the first keeps the GPU busy while the CPU records the third.
    submitDepth: software ? 1 : 2,
  };
}
