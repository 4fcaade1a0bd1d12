// Helpers shared by the non-convolution kernel folders (elementwise, reduce, batchnorm, pool,
// loss, matmul, sgd): vec4 bindings, flat grids, f32 checks and WGSL snippets.

import { formatShape, type Tensor, type BufferRange } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { grid1d } from '../common/grid.js';

/** The tensor's range rounded up to 16 bytes, for `array<vec4f>` bindings (pool buffers are 16-byte multiples). */
export function vecBinding(t: Tensor): BufferRange {
  const b = t.binding();
  return { buffer: b.buffer, offset: b.offset, size: Math.ceil(b.size / 16) * 16 };
}

/**
 * A flat launch of `n` invocations of `wg` each: workgroups folded into [x, y], and the total
 * number of invocations launched (the stride of a grid-stride loop).
 */
export function flatGrid(n: number, wg: number): { groups: [number, number]; total: number } {
  const groups = grid1d(Math.max(1, n), wg);
  return { groups, total: groups[0] * groups[1] * wg };
}

/** WGSL: the flat invocation id of a flatGrid launch (needs `gid` and `nwg` builtins). */
export { FLAT_INDEX_WGSL as flatId } from '../common/grid.js';

export function checkF32(kernel: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32') {
    throw new KernelArgumentError(
      kernel,
      `${name} must be f32, got ${t.dtype} ${formatShape(t.shape)}; convert it first.`,
    );
  }
}

/**
 * WGSL max(v, 0) that keeps NaN, as PyTorch's relu does. WGSL leaves max() of a NaN to the
 * implementation, and lavapipe's returns the other operand, so max(NaN, 0) was 0 and hid a
 * diverging model. `v` appears twice: pass a name or a cheap expression.
 */
export const reluWgsl = (v: string, T = 'f32'): string => `select(${v}, ${T}(0.0), ${v} < ${T}(0.0))`;

/**
 * WGSL relu backward from the relu output y, as PyTorch's threshold_backward(dy, y, 0):
 * `y <= 0 ? 0 : dy`, so a NaN y passes dy through.
 */
export const reluGradWgsl = (dy: string, y: string, T = 'f32'): string => `select(${dy}, ${T}(0.0), ${y} <= ${T}(0.0))`;

/** A WGSL f32 literal. */
export function f32Lit(v: number): string {
  if (v === Infinity) return '0x1.fffffep+127f';
  if (v === -Infinity) return '-0x1.fffffep+127f';
  const s = String(v);
  return /[.eE]/.test(s) ? `${s}f` : `${s}.0f`;
}
