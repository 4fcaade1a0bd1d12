// Workgroup counts. A dimension holds at most 65535 workgroups, so large 1-D launches fold
// into 2-D; kernels recover the flat index as `gid.x + gid.y * (nwg.x * WG)`.

/** The most workgroups WebGPU allows in one dimension of a dispatch. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Workgroups for `n` invocations of `workgroupSize` each, folded into [x, y]. */
export function grid1d(n: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(n / workgroupSize);
  if (groups <= MAX_WORKGROUPS_PER_DIM) return [groups, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(groups / y), y];
}

/** WGSL snippet: the flat invocation index for a grid1d launch (needs `nwg: vec3u` builtin). */
export const FLAT_INDEX_WGSL = (workgroupSize: number) => `(gid.x + gid.y * (nwg.x * ${workgroupSize}u))`;
