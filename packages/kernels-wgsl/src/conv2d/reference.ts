// Float64 references for conv2d and its two gradients: the definition, loop by loop.

import { formatShape } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { checkOutputGrad, convGeometry, type Conv2dOptions, type ConvGeometry } from './geometry.js';

/** Calls f(xIndex, wIndex, yIndex) for every in-bounds tap of the convolution (grouped, dilated). */
function forEachTap(g: ConvGeometry, f: (xi: number, wi: number, yi: number) => void): void {
  const cpg = g.cin / g.groups; // input channels per group (the weight's second dimension)
  const opg = g.cout / g.groups;
  for (let n = 0; n < g.n; n++)
    for (let co = 0; co < g.cout; co++) {
      const c0 = Math.floor(co / opg) * cpg; // the group's first input channel
      for (let oy = 0; oy < g.ho; oy++)
        for (let ox = 0; ox < g.wo; ox++) {
          const yi = ((n * g.cout + co) * g.ho + oy) * g.wo + ox;
          for (let cj = 0; cj < cpg; cj++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dilh;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dilw;
                if (ix < 0 || ix >= g.w) continue;
                f(((n * g.cin + c0 + cj) * g.h + iy) * g.w + ix, ((co * cpg + cj) * g.kh + ky) * g.kw + kx, yi);
              }
            }
        }
    }
}

/** Float64 reference of conv2dForward on the CPU (what the tests check the kernel against). */
export function conv2dForwardRef(x: F64, w: F64, opts: Conv2dOptions = {}): F64 {
  const g = convGeometry('conv2dForwardRef', x.shape, w.shape, opts);
  const y = new Float64Array(g.n * g.cout * g.ho * g.wo);
  forEachTap(g, (xi, wi, yi) => {
    y[yi] += x.data[xi] * w.data[wi];
  });
  return { data: y, shape: [g.n, g.cout, g.ho, g.wo] };
}

/** Float64 reference of conv2dInputGrad on the CPU (what the tests check the kernel against). */
export function conv2dInputGradRef(dy: F64, w: F64, inputShape: readonly number[], opts: Conv2dOptions = {}): F64 {
  const g = convGeometry('conv2dInputGradRef', inputShape, w.shape, opts);
  checkOutputGrad('conv2dInputGradRef', dy.shape, g, inputShape, w.shape);
  const dx = new Float64Array(g.n * g.cin * g.h * g.w);
  forEachTap(g, (xi, wi, yi) => {
    dx[xi] += dy.data[yi] * w.data[wi];
  });
  return { data: dx, shape: [...inputShape] };
}

/** Float64 reference of conv2dWeightGrad on the CPU (what the tests check the kernel against). */
export function conv2dWeightGradRef(x: F64, dy: F64, weightShape: readonly number[], opts: Conv2dOptions = {}): F64 {
  const g = convGeometry('conv2dWeightGradRef', x.shape, weightShape, opts);
  checkOutputGrad('conv2dWeightGradRef', dy.shape, g, x.shape, weightShape);
  if (!sameShape(weightShape, [g.cout, g.cin / g.groups, g.kh, g.kw]))
    throw new KernelArgumentError('conv2dWeightGradRef', `bad weight shape ${formatShape(weightShape)}.`);
  const dw = new Float64Array((g.cout * g.cin * g.kh * g.kw) / g.groups);
  forEachTap(g, (xi, wi, yi) => {
    dw[wi] += x.data[xi] * dy.data[yi];
  });
  return { data: dw, shape: [...weightShape] };
}
