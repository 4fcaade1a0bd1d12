// Public API: elementwise kernels and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './elementwise.js';
export { broadcastShapes, type UnaryOp } from './elementwise.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const relu = releaseOnThrow(launchers.relu);
export const reluBackward = releaseOnThrow(launchers.reluBackward);
export const addRelu = releaseOnThrow(launchers.addRelu);
export const add = releaseOnThrow(launchers.add);
export const sub = releaseOnThrow(launchers.sub);
export const mul = releaseOnThrow(launchers.mul);
export const div = releaseOnThrow(launchers.div);
export const scale = releaseOnThrow(launchers.scale);
export const addScalar = releaseOnThrow(launchers.addScalar);
export const axpy = releaseOnThrow(launchers.axpy);
export const unary = releaseOnThrow(launchers.unary);
export const fill = releaseOnThrow(launchers.fill);
export const copy = releaseOnThrow(launchers.copy);
export const transpose2d = releaseOnThrow(launchers.transpose2d);
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
