// Public API: matmul with optional transposes, plain and batched, and with broadcast batch dims.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './matmul.js';
import * as broadcast from './broadcast.js';

export { matmulShape, type MatmulOptions } from './matmul.js';
export { matmulBroadcastShape } from './broadcast.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** a @ b for 2-D [M, K] x [K, N], or batched 3-D; transA / transB use an operand's transpose. */
export const matmul = releaseOnThrow(launchers.matmul);
/** a @ b for [..., M, K] x [..., K, N] with the batch dims broadcast as in PyTorch; transA / transB as matmul. */
export const matmulBroadcast = releaseOnThrow(broadcast.matmulBroadcast);
export { matmulRef, matmulBroadcastRef } from './reference.js';
