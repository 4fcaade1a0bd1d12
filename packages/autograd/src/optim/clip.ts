// clipGradNorm (torch.nn.utils.clip_grad_norm_): the norm of all gradients together, and every
// gradient scaled by min(1, maxNorm / (norm + 1e-6)), computed on the GPU without a readback.
// The gradients are copied into one flat buffer (buffer copies), reduced and scaled there in a
// few dispatches whatever their number, and copied back.

import { Tensor, noGrad, tidy, keep, zeros } from '../tensor.js';
import * as F from '../functional.js';
import { FlatArena } from './flat.js';

/**
 * Scales the gradients of `parameters` in place so that their total `normType`-norm (as if
 * all were one vector) is at most `maxNorm`, and returns that norm before clipping, as a
 * one-element tensor that stays on the device (read it with item() when needed). normType is
 * any p > 0, or Infinity / 'inf' for the largest magnitude. Parameters without a gradient are
 * skipped. Like PyTorch's default, a non-finite norm is not an error (it would need a readback):
 * the gradients then become NaN.
 */
export function clipGradNorm(
  parameters: Iterable<Tensor> | Tensor,
  maxNorm: number,
  normType: number | 'inf' = 2,
): Tensor {
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || !(p > 0))
    throw new Error(`clipGradNorm: normType must be a number > 0 or 'inf', got ${String(normType)}.`);
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be a number >= 0, got ${maxNorm}.`);
  const all = parameters instanceof Tensor ? [parameters] : [...parameters];
  const params = all.filter((t) => t.grad && !t.grad.isDisposed);
  if (!params.length) return zeros([], { backend: all[0]?.backend });
  // The arena lays the gradients out as the parameters (zero padding, which no norm notices).
  const arena = new FlatArena(params, 'clipGradNorm');
  try {
    params.forEach((t, k) => arena.gather('grads', k, t.grad!.raw));
    const b = arena.backend;
    const total = noGrad(() =>
      tidy(() => {
        const flat = new Tensor(b.retain(arena.get('grads')));
        const norm = totalNorm(flat, p);
        const coef = F.clamp(F.mul(F.reciprocal(F.add(norm, 1e-6)), maxNorm), null, 1);
        b.assign(arena.get('grads'), F.mul(flat, coef).raw);
        return keep(norm);
      }),
    );
    params.forEach((t, k) => arena.scatter('grads', k, t.grad!.raw));
    return total;
  } finally {
    arena.dispose();
  }
}

/** The p-norm of a flat tensor: sqrt of the sum of squares, the sum of magnitudes, the largest, or the general form. */
function totalNorm(x: Tensor, p: number): Tensor {
  if (p === 2) return F.sqrt(F.sum(F.square(x)));
  if (p === 1) return F.sum(F.abs(x));
  if (p === Infinity) return F.amax(F.abs(x));
  return F.pow(F.sum(F.pow(F.abs(x), p)), 1 / p);
}
