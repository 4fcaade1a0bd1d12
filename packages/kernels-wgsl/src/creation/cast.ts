// Conversion between the f32 and i32 dtypes (autograd's x.float() and x.int()): f32 -> i32
// rounds toward zero as PyTorch's .int() does, saturating out-of-range values (WGSL's rule).

import { Tensor, formatShape, sizeOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { KernelArgumentError } from '../common/errors.js';
import { FLAT_INDEX_WGSL, grid1d } from '../common/grid.js';

/** The dtypes cast converts between. */
export type CastDtype = 'f32' | 'i32';

const WG = 256;

const castKernel = memoKernel((from: CastDtype, to: CastDtype) =>
  defineKernel({
    name: `creation.cast_${from}_${to}`,
    params: { n: 'u32' },
    bindings: { x: { type: from }, out: { type: to, access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${FLAT_INDEX_WGSL(WG)};\n  if (i >= params.n) { return; }\n  out[i] = ${to}(x[i]);`,
  }),
);

function checkDtype(kernel: string, x: { dtype: string; shape: readonly number[] }, to: string): void {
  if (to !== 'f32' && to !== 'i32')
    throw new KernelArgumentError(kernel, `dtype '${to}' is not supported; use 'f32' or 'i32'.`);
  if (x.dtype !== 'f32' && x.dtype !== 'i32')
    throw new KernelArgumentError(kernel, `x ${formatShape(x.shape)} is ${x.dtype}; cast takes f32 or i32.`);
}

/** x converted to `dtype` in a new tensor (f32 -> i32 rounds toward zero and saturates). */
export function cast(x: Tensor, dtype: CastDtype): Tensor {
  checkDtype('cast', x, dtype);
  const out = Tensor.empty(x.shape, dtype, 'cast');
  if (x.size === 0) return out;
  castKernel(x.dtype as CastDtype, dtype).launch({ x, out }, { n: x.size }, grid1d(x.size, WG));
  return out;
}

/** Float64 reference of cast: 'i32' truncates toward zero and saturates (NaN gives 0); 'f32' copies. */
export function castRef(x: F64, dtype: CastDtype): F64 {
  checkDtype('castRef', { dtype: 'f32', shape: x.shape }, dtype);
  const data = new Float64Array(sizeOf(x.shape));
  for (let i = 0; i < data.length; i++) {
    const v = x.data[i];
    data[i] =
      dtype === 'f32' ? v : Number.isNaN(v) ? 0 : Math.min(2 ** 31 - 1, Math.max(-(2 ** 31), Math.trunc(v) || 0));
  }
  return { data, shape: [...x.shape] };
}
