// Public API: elementwise kernels and their float64 references.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './elementwise.js';
import * as math from './math.js';
export { broadcastShapes, type UnaryOp } from './elementwise.js';
export type { UnaryGradOp } from './math.js';
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
/** dx of unary(op, x) from dy and x for abs, reciprocal, erf, gelu, geluTanh, silu (PyTorch's formulas). */
export const unaryBackward = releaseOnThrow(math.unaryBackward);
/** x where x > 0, else negativeSlope * x; NaN stays NaN. */
export const leakyRelu = releaseOnThrow(math.leakyRelu);
/** dy where x > 0, else negativeSlope * dy (the slope at 0 and at NaN, as PyTorch). */
export const leakyReluBackward = releaseOnThrow(math.leakyReluBackward);
/** log(1 + e^(beta x)) / beta, and x where beta x > threshold (PyTorch's softplus). */
export const softplus = releaseOnThrow(math.softplus);
/** dy * sigmoid(beta x), and dy where beta x > threshold. */
export const softplusBackward = releaseOnThrow(math.softplusBackward);
/** min(max(x, min), max) keeping NaN (pass -Infinity / Infinity for an absent bound); max wins where min > max. */
export const clamp = releaseOnThrow(math.clamp);
/** dy where min <= x <= max, else 0 (0 at NaN, as PyTorch). */
export const clampBackward = releaseOnThrow(math.clampBackward);
/** The larger of a and b elementwise, broadcasting; NaN where either is NaN. */
export const maximum = releaseOnThrow(math.maximum);
/** The smaller of a and b elementwise, broadcasting; NaN where either is NaN. */
export const minimum = releaseOnThrow(math.minimum);
/** Gradients { da, db } of maximum at dy's shape: half each at ties, dy to both where one is NaN. */
export const maximumBackward = releaseOnThrow(math.maximumBackward);
/** Gradients { da, db } of minimum at dy's shape: half each at ties, dy to both where one is NaN. */
export const minimumBackward = releaseOnThrow(math.minimumBackward);
/** x^exponent for a number (PyTorch's special cases for 2, 3, 0.5, -0.5, -1, -2; else C's pow). */
export const powScalar = releaseOnThrow(math.powScalar);
/** dy * exponent * x^(exponent - 1); 0 for exponent 0. */
export const powScalarBackward = releaseOnThrow(math.powScalarBackward);
/** a^b elementwise with broadcasting (C's pow: pow(x, 0) = pow(1, y) = 1 even for NaN). */
export const pow = releaseOnThrow(math.pow);
/** Gradients { da, db } of pow(a, b) at dy's shape (PyTorch's: da 0 where b == 0, db 0 where a == 0 <= b). */
export const powBackward = releaseOnThrow(math.powBackward);
export {
  erf64,
  cPow,
  unaryBackwardRef,
  leakyReluRef,
  leakyReluBackwardRef,
  softplusRef,
  softplusBackwardRef,
  clampRef,
  clampBackwardRef,
  maximumRef,
  minimumRef,
  maximumBackwardRef,
  minimumBackwardRef,
  powScalarRef,
  powScalarBackwardRef,
  powRef,
  powBackwardRef,
} from './reference.js';
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
