// Packed weights over several uniform bindings in one dispatch. A uniform binding holds at most
// maxUniformBufferBindingSize bytes (64 KiB on lavapipe), so larger packed weights are cut into
// chunks of whole row groups (packedChunkRows). One dispatch binds up to `bindings` chunks, as
// wq0, wq1, ...; its workgroups along y take the row groups of all of them, each workgroup
// reading the chunk its rows fall in. One dispatch per convolution rather than one per chunk:
// the fixed cost of a training step is mostly per dispatch.
//
// WGSL can neither index an array of bindings nor (without unrestricted_pointer_parameters)
// pass a uniform pointer to a function, so the kernels generate their reduction loop once per
// chunk under a switch on the workgroup's chunk (uniform across the workgroup: one branch
// before the loop). A switch around each weight load inside the loop instead measured 20-30%
// slower on lavapipe.

import { runtime, type BufferRange } from '@wgtorch/tensor';
import type { BindingDecl } from '../common/kernel.js';

export interface WeightChunks {
  /** Packed rows per chunk (one uniform binding). */
  rows: number;
  /** Chunks of all the rows. */
  count: number;
  /** Chunk bindings a kernel declares and a dispatch binds: wq0 .. wq{bindings - 1}. */
  bindings: number;
  /** Row groups (workgroups along y) per chunk. */
  groupsPerChunk: number;
}

/**
 * The chunks of `totalRows` packed rows in bindings of `chunkRows` (packedChunkRows), `rowsPerGroup` rows a
 * workgroup: as many bindings a dispatch as the device allows beside the params' one.
 */
export function weightChunks(totalRows: number, chunkRows: number, rowsPerGroup: number): WeightChunks {
  const count = Math.ceil(totalRows / chunkRows);
  const perStage = runtime().limits.maxUniformBuffersPerShaderStage;
  // Several chunks need chunk rows in whole row groups (packedChunkRows gives them so).
  if (count > 1 && chunkRows % rowsPerGroup !== 0) {
    throw new Error(`weightChunks: ${chunkRows} rows a chunk are not whole groups of ${rowsPerGroup} rows.`);
  }
  return {
    rows: chunkRows,
    count,
    bindings: Math.max(1, Math.min(count, perStage - 1)),
    groupsPerChunk: Math.ceil(chunkRows / rowsPerGroup),
  };
}

/** The kernel's chunk bindings, `vec4s` packed vec4s each. */
export function chunkBindings(c: WeightChunks, vec4s: number): Record<string, BindingDecl> {
  const out: Record<string, BindingDecl> = {};
  for (let k = 0; k < c.bindings; k++) out[`wq${k}`] = { type: 'vec4f', space: 'uniform', length: vec4s };
  return out;
}

/**
 * WGSL: the rows of lane block `mbase` (rm rows a lane): md_i, the row within the dispatch (clamped to its
 * last row; rows past it are not stored), and ml_i, the row within the workgroup's chunk, which
 * the weight loads index by. `wid` is the workgroup id.
 */
export function chunkRowLines(c: WeightChunks, rm: number): string[] {
  const L: string[] = [];
  const multi = c.bindings > 1;
  if (multi) L.push(`  let chunk = wid.y / ${c.groupsPerChunk}u;`);
  for (let i = 0; i < rm; i++) {
    L.push(`  let md${i} = min(mbase + ${i}u, ${dispatchRows(c) - 1}u);`);
    L.push(`  let ml${i} = ${multi ? `md${i} - chunk * ${c.rows}u` : `md${i}`};`);
  }
  return L;
}

/** Rows a dispatch covers at most: the guard for stores is `mbase + i < dispatchRows`. */
export function dispatchRows(c: WeightChunks): number {
  return c.bindings * c.rows;
}

/**
 * WGSL: `body` reading the workgroup's chunk binding: body('wq0') where a dispatch binds one, else one copy
 * per binding under a switch on the chunk.
 */
export function chunkSwitch(c: WeightChunks, body: (wq: string) => string[]): string[] {
  if (c.bindings === 1) return body('wq0');
  const L = ['  switch chunk {'];
  for (let k = 0; k < c.bindings; k++) {
    L.push(`  ${k === c.bindings - 1 ? 'default' : `case ${k}u`}: {`, ...body(`wq${k}`), '  }');
  }
  L.push('  }');
  return L;
}

/**
 * Calls `dispatch` once per `c.bindings` chunks of the packed weights `a` (once for every shape where the
 * chunks fit the bindings), with the chunk bindings, the dispatch's first row and its row groups.
 * A last dispatch with fewer chunks binds its first chunk in the slots it does not read.
 */
export function forEachWeightDispatch(
  a: BufferRange,
  totalRows: number,
  c: WeightChunks,
  rowBytes: number,
  rowsPerGroup: number,
  dispatch: (wq: Record<string, BufferRange>, row0: number, groupsY: number) => void,
): void {
  const size = c.rows * rowBytes;
  for (let r0 = 0; r0 < totalRows; r0 += dispatchRows(c)) {
    const wq: Record<string, BufferRange> = {};
    const rows = Math.min(dispatchRows(c), totalRows - r0);
    for (let k = 0; k < c.bindings; k++) {
      const first = k * c.rows < rows ? r0 + k * c.rows : r0;
      wq[`wq${k}`] = { buffer: a.buffer, offset: (a.offset ?? 0) + first * rowBytes, size };
    }
    dispatch(wq, r0, Math.ceil(rows / rowsPerGroup));
  }
}
