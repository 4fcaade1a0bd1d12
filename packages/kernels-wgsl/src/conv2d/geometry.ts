// Conv2d geometry: options, output shape and the argument checks shared by the launchers and
// the float64 references. NCHW activations, OIHW weights, no bias, no dilation, no groups.

import { formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';

/** Stride and padding of a 2-D convolution (a number for both dimensions or [h, w]; defaults 1 and 0). */
export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
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
  ho: number;
  wo: number;
}

function pair(
  kernel: string,
  name: string,
  v: number | [number, number] | undefined,
  dflt: number,
  min: number,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new KernelArgumentError(
      kernel,
      `${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}.`,
    );
  }
  return p;
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
    throw new KernelArgumentError(kernel, `weight must be 4-D [Cout, Cin, kh, kw], got ${formatShape(wShape)}.`);
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
  if (wcin !== cin) {
    throw new KernelArgumentError(
      kernel,
      `input ${formatShape(xShape)} has ${cin} channels but weight ${formatShape(wShape)} expects ${wcin} ` +
        '(weight is [Cout, Cin, kh, kw]).',
    );
  }
  const [sh, sw] = pair(kernel, 'stride', opts.stride, 1, 1);
  const [ph, pw] = pair(kernel, 'padding', opts.padding, 0, 0);
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (h + 2 * ph < kh || w + 2 * pw < kw || ho < 1 || wo < 1) {
    throw new KernelArgumentError(
      kernel,
      `a ${kh}x${kw} kernel does not fit the ${h}x${w} input with padding [${ph}, ${pw}] ` +
        `(input ${formatShape(xShape)}, weight ${formatShape(wShape)}); increase padding or use a smaller kernel.`,
    );
  }
  return { n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, ho, wo };
}

/** [N, Cout, Ho, Wo] for an input [N, Cin, H, W] and a weight [Cout, Cin, kh, kw]. */
export function conv2dOutputShape(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): number[] {
  const g = convGeometry('conv2dOutputShape', xShape, wShape, opts);
  return [g.n, g.cout, g.ho, g.wo];
}

/** Checks that `dy` has the output shape of the convolution described by `g`. */
export function checkOutputGrad(kernel: string, dyShape: readonly number[], g: ConvGeometry, what: string): void {
  const want = [g.n, g.cout, g.ho, g.wo];
  if (!sameShape(dyShape, want)) {
    throw new KernelArgumentError(
      kernel,
      `dy ${formatShape(dyShape)} must be the conv output shape ${formatShape(want)} for ${what}.`,
    );
  }
}
