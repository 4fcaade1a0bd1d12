// Public API: elementwise kernels and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './elementwise.js';
export { broadcastShapes, type UnaryOp } from './elementwise.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/** max(x, 0); NaN stays NaN (as in PyTorch). */
export const relu = releaseOnThrow(launchers.relu);
/** dx = 0 where the relu output y <= 0, else dy (PyTorch's threshold_backward: a NaN y passes dy). */
export const reluBackward = releaseOnThrow(launchers.reluBackward);
/** relu(a + b), the residual join (same shapes); NaN stays NaN. */
export const addRelu = releaseOnThrow(launchers.addRelu);
/** a + b, broadcasting as PyTorch does. */
export const add = releaseOnThrow(launchers.add);
/** a - b, broadcasting as PyTorch does. */
export const sub = releaseOnThrow(launchers.sub);
/** a * b, broadcasting as PyTorch does. */
export const mul = releaseOnThrow(launchers.mul);
/** a / b, broadcasting as PyTorch does. */
export const div = releaseOnThrow(launchers.div);
/** x * s for a number s. */
export const scale = releaseOnThrow(launchers.scale);
/** x + s for a number s. */
export const addScalar = releaseOnThrow(launchers.addScalar);
/** y + alpha * x, as a new tensor. */
export const axpy = releaseOnThrow(launchers.axpy);
/** An elementwise function of x (exp, log, sqrt, tanh, ...: see UnaryOp). */
export const unary = releaseOnThrow(launchers.unary);
/** A new f32 tensor of `shape` filled with `value`. */
export const fill = releaseOnThrow(launchers.fill);
/** A copy of x in a new buffer. */
export const copy = releaseOnThrow(launchers.copy);
/** [M, N] -> [N, M]. */
export const transpose2d = releaseOnThrow(launchers.transpose2d);
/** out.shape[i] = x.shape[dims[i]] (general, rank <= 6). */
export const permute = releaseOnThrow(launchers.permute);
export {
  reluRef,
  reluBackwardRef,
  addReluRef,
  addRef,
  subRef,
  mulRef,
  divRef,
  scaleRef,
  addScalarRef,
  axpyRef,
  unaryRef,
  fillRef,
  copyRef,
  transpose2dRef,
  permuteRef,
} from './reference.js';
