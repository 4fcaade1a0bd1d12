// Conv2d geometry: options, output shape and the argument checks shared by the launchers and
// the float64 references. NCHW activations, OIHW weights ([Cout, Cin / groups, kh, kw]), no bias.

import { formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, intPair, sameShape } from '../common/errors.js';

/**
 * Stride, padding and dilation of a 2-D convolution (a number for both dimensions or [h, w]; defaults 1, 0
 * and 1), and groups (default 1): input channel group i meets output channel group i only.
 */
export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

/** Everything a conv2d kernel is specialized on, plus the batch. */
export interface ConvGeometry {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  /** Dilation (1: taps next to each other). */
  dilh: number;
  dilw: number;
  /** Channel groups; `cin` counts all input channels, the weight holds cin / groups of them. */
  groups: number;
  ho: number;
  wo: number;
}

/** Whether the convolution needs the general kernels (general.ts): the tuned ones take neither groups nor dilation. */
export function isGeneralConv(g: ConvGeometry): boolean {
  return g.groups > 1 || g.dilh > 1 || g.dilw > 1;
}

/** Validates shapes and options; `kernel` names the op in errors. */
export function convGeometry(
  kernel: string,
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): ConvGeometry {
  if (xShape.length !== 4) throw new KernelArgumentError(kernel, `input must be 4-D NCHW, got ${formatShape(xShape)}.`);
  if (wShape.length !== 4)
    throw new KernelArgumentError(
      kernel,
      `weight must be 4-D [Cout, Cin / groups, kh, kw], got ${formatShape(wShape)}.`,
    );
  for (const s of [xShape, wShape]) {
    if (!s.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new KernelArgumentError(
        kernel,
        `every dimension must be a positive integer: input ${formatShape(xShape)}, weight ${formatShape(wShape)}.`,
      );
    }
  }
  const [n, cin, h, w] = xShape;
  const [cout, wcin, kh, kw] = wShape;
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1)
    throw new KernelArgumentError(kernel, `groups must be a positive integer, got ${groups}.`);
  if (cin % groups !== 0 || cout % groups !== 0) {
    throw new KernelArgumentError(
      kernel,
      `groups ${groups} must divide both the input channels ${cin} and the output channels ${cout} ` +
        `(input ${formatShape(xShape)}, weight ${formatShape(wShape)}).`,
    );
  }
  if (wcin * groups !== cin) {
    throw new KernelArgumentError(
      kernel,
      `input ${formatShape(xShape)} has ${cin} channels but weight ${formatShape(wShape)} expects ` +
        `${wcin * groups} (${wcin} per group x ${groups} groups; weight is [Cout, Cin / groups, kh, kw]).`,
    );
  }
  const [sh, sw] = intPair(kernel, 'stride', opts.stride ?? 1, 1);
  const [ph, pw] = intPair(kernel, 'padding', opts.padding ?? 0, 0);
  const [dilh, dilw] = intPair(kernel, 'dilation', opts.dilation ?? 1, 1);
  // The extent a dilated kernel covers.
  const eh = dilh * (kh - 1) + 1;
  const ew = dilw * (kw - 1) + 1;
  const ho = Math.floor((h + 2 * ph - eh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - ew) / sw) + 1;
  if (h + 2 * ph < eh || w + 2 * pw < ew || ho < 1 || wo < 1) {
    const dil = dilh > 1 || dilw > 1 ? ` (dilated to ${eh}x${ew})` : '';
    throw new KernelArgumentError(
      kernel,
      `a ${kh}x${kw} kernel${dil} does not fit the ${h}x${w} input with padding [${ph}, ${pw}] ` +
        `(input ${formatShape(xShape)}, weight ${formatShape(wShape)}); increase padding or use a smaller kernel.`,
    );
  }
  return { n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, dilh, dilw, groups, ho, wo };
}

/** [N, Cout, Ho, Wo] for an input [N, Cin, H, W] and a weight [Cout, Cin / groups, kh, kw]. */
export function conv2dOutputShape(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): number[] {
  const g = convGeometry('conv2dOutputShape', xShape, wShape, opts);
  return [g.n, g.cout, g.ho, g.wo];
}

/** Checks that `dy` has the output shape of the convolution described by `g`. */
export function checkOutputGrad(
  kernel: string,
  dyShape: readonly number[],
  g: ConvGeometry,
  inputShape: readonly number[],
  weightShape: readonly number[],
): void {
  if (dyShape.length === 4 && dyShape[0] === g.n && dyShape[1] === g.cout && dyShape[2] === g.ho && dyShape[3] === g.wo)
    return;
  throw new KernelArgumentError(
    kernel,
    `dy ${formatShape(dyShape)} must be the conv output shape ${formatShape([g.n, g.cout, g.ho, g.wo])} for ` +
      `input ${formatShape(inputShape)} and weight ${formatShape(weightShape)}.`,
  );
}
