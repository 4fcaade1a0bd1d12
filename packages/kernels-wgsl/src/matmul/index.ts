// Public API: matmul with optional transposes, plain and batched.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './matmul.js';

export { matmulShape, type MatmulOptions } from './matmul.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** a @ b for 2-D [M, K] x [K, N], or batched 3-D; transA / transB use an operand's transpose. */
export const matmul = releaseOnThrow(launchers.matmul);
export { matmulRef } from './reference.js';
