// Grouped and dilated conv2d (general.ts) against the float64 references, and the references against
// the ungrouped, undilated reference (one convolution per group; a dilated kernel as a zero-stuffed one).

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, Tensor } from '@wgtorch/tensor';
import { assertClose, randomArray } from '../common/testing.js';
import { f64, type F64 } from '../common/f64.js';
import {
  conv2dForward,
  conv2dForwardRef,
  conv2dInputGrad,
  conv2dInputGradRef,
  conv2dOutputShape,
  conv2dWeightGrad,
  conv2dWeightGradRef,
  type Conv2dOptions,
} from './index.js';

interface Case {
  x: number[]; // N, Cin, H, W
  cout: number;
  k: number | [number, number];
  opts: Conv2dOptions;
}

// Depthwise (groups = C = O) at stride 1 and 2 on odd and even maps, a channel multiplier (O = 2C),
// groups with several channels per group, dilation alone and with groups, non-square everything,
// padding past the dilated kernel's reach, batch 1 and odd batches, sizes no multiple of 64.
const CASES: Case[] = [
  { x: [2, 4, 7, 7], cout: 4, k: 3, opts: { padding: 1, groups: 4 } },
  { x: [3, 5, 9, 8], cout: 5, k: 3, opts: { stride: 2, padding: 1, groups: 5 } },
  { x: [1, 32, 4, 4], cout: 32, k: 3, opts: { stride: 2, padding: 1, groups: 32 } },
  { x: [2, 3, 6, 5], cout: 6, k: 3, opts: { padding: 1, groups: 3 } },
  { x: [2, 6, 7, 9], cout: 4, k: [3, 2], opts: { stride: [2, 1], padding: [1, 0], groups: 2 } },
  { x: [1, 3, 9, 10], cout: 2, k: 3, opts: { dilation: 2, padding: 2 } },
  { x: [2, 4, 11, 9], cout: 6, k: [3, 2], opts: { dilation: [2, 3], stride: [1, 2], padding: [1, 3], groups: 2 } },
  { x: [3, 2, 8, 8], cout: 2, k: 5, opts: { dilation: 2, stride: 3, padding: 4, groups: 2 } },
  { x: [1, 1, 5, 6], cout: 3, k: [1, 3], opts: { dilation: [1, 2], padding: [0, 2] } },
  { x: [2, 8, 5, 5], cout: 8, k: 1, opts: { groups: 4 } },
  // Rows of whole vec4s (four outputs or input gradients per invocation): depthwise at stride 1 and 2,
  // a multiplier, dilation with groups, a stride of 4 along rows, a 1x1 stride-2 grouped convolution.
  { x: [2, 3, 8, 8], cout: 3, k: 3, opts: { padding: 1, groups: 3 } },
  { x: [3, 4, 9, 16], cout: 4, k: 3, opts: { stride: 2, padding: 1, groups: 4 } },
  { x: [1, 2, 5, 12], cout: 6, k: 3, opts: { padding: [0, 1], groups: 2 } },
  { x: [2, 4, 7, 12], cout: 4, k: [2, 3], opts: { dilation: [2, 2], padding: [1, 2], groups: 2 } },
  { x: [1, 2, 6, 16], cout: 4, k: [3, 5], opts: { stride: [1, 4], padding: [1, 2], groups: 2 } },
  { x: [2, 6, 7, 8], cout: 6, k: 1, opts: { stride: 2, groups: 3 } },
];

const label = (c: Case) => `x[${c.x}] cout ${c.cout} k ${c.k} ${JSON.stringify(c.opts)}`;
const count = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

function weightShape(c: Case): number[] {
  const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
  return [c.cout, c.x[1] / (c.opts.groups ?? 1), kh, kw];
}

async function read(t: Tensor): Promise<Float32Array> {
  const a = (await t.toArray()) as Float32Array;
  t.dispose();
  return a;
}

const TOL = { atol: 1e-5, rtol: 1e-4, relativeToMax: true };

describe('grouped and dilated conv2d references', () => {
  /** Channels [c0, c0 + len) of dimension 1 of a 4-D tensor. */
  function channels(t: F64, c0: number, len: number): F64 {
    const [n, c, h, w] = t.shape;
    const out = new Float64Array(n * len * h * w);
    for (let i = 0; i < n; i++)
      out.set(t.data.subarray((i * c + c0) * h * w, (i * c + c0 + len) * h * w), i * len * h * w);
    return { data: out, shape: [n, len, h, w] };
  }

  it('a grouped convolution is one convolution per group', () => {
    const [groups, cpg, opg] = [3, 2, 2];
    const x = f64(randomArray(2 * 6 * 5 * 5, 1), [2, 6, 5, 5]);
    const w = f64(randomArray(6 * 2 * 3 * 3, 2), [6, 2, 3, 3]);
    const opts = { stride: 2, padding: 1 };
    const y = conv2dForwardRef(x, w, { ...opts, groups });
    const dy = f64(randomArray(count(y.shape), 3), y.shape);
    const dx = conv2dInputGradRef(dy, w, x.shape, { ...opts, groups });
    const dw = conv2dWeightGradRef(x, dy, w.shape, { ...opts, groups });
    for (let gi = 0; gi < groups; gi++) {
      const xg = channels(x, gi * cpg, cpg);
      const wg: F64 = { data: w.data.slice(gi * opg * 18, (gi + 1) * opg * 18), shape: [opg, cpg, 3, 3] };
      const dyg = channels(dy, gi * opg, opg);
      expect(channels(y, gi * opg, opg).data).toEqual(conv2dForwardRef(xg, wg, opts).data);
      expect(channels(dx, gi * cpg, cpg).data).toEqual(conv2dInputGradRef(dyg, wg, xg.shape, opts).data);
      expect(dw.data.slice(gi * opg * 18, (gi + 1) * opg * 18)).toEqual(
        conv2dWeightGradRef(xg, dyg, wg.shape, opts).data,
      );
    }
  });

  it('a dilated kernel is the undilated one with zeros between its taps', () => {
    const x = f64(randomArray(2 * 2 * 9 * 8, 4), [2, 2, 9, 8]);
    const w = f64(randomArray(3 * 2 * 2 * 3, 5), [3, 2, 2, 3]);
    // Dilation [3, 2]: a 2x3 kernel spans 4x5.
    const stuffed = new Float64Array(3 * 2 * 4 * 5);
    for (let p = 0; p < 6; p++)
      for (let ky = 0; ky < 2; ky++)
        for (let kx = 0; kx < 3; kx++) stuffed[p * 20 + ky * 3 * 5 + kx * 2] = w.data[p * 6 + ky * 3 + kx];
    const ws: F64 = { data: stuffed, shape: [3, 2, 4, 5] };
    const opts = { stride: [2, 1] as [number, number], padding: [1, 2] as [number, number] };
    const y = conv2dForwardRef(x, w, { ...opts, dilation: [3, 2] });
    expect(y.data).toEqual(conv2dForwardRef(x, ws, opts).data);
    const dy = f64(randomArray(count(y.shape), 6), y.shape);
    expect(conv2dInputGradRef(dy, w, x.shape, { ...opts, dilation: [3, 2] }).data).toEqual(
      conv2dInputGradRef(dy, ws, x.shape, opts).data,
    );
    const dws = conv2dWeightGradRef(x, dy, ws.shape, opts);
    const dw = conv2dWeightGradRef(x, dy, w.shape, { ...opts, dilation: [3, 2] });
    for (let p = 0; p < 6; p++)
      for (let ky = 0; ky < 2; ky++)
        for (let kx = 0; kx < 3; kx++) expect(dw.data[p * 6 + ky * 3 + kx]).toBe(dws.data[p * 20 + ky * 15 + kx * 2]);
  });

  it('refuse channels that groups do not divide, naming the shapes', () => {
    const x = f64(new Float64Array(2 * 6 * 4 * 4), [2, 6, 4, 4]);
    expect(() => conv2dForwardRef(x, f64(new Float64Array(5 * 2 * 9), [5, 2, 3, 3]), { groups: 3 })).toThrow(
      /groups 3 must divide .* output channels 5/,
    );
    expect(() => conv2dForwardRef(x, f64(new Float64Array(6 * 3 * 9), [6, 3, 3, 3]), { groups: 3 })).toThrow(
      /expects 9 \(3 per group x 3 groups/,
    );
    expect(() => conv2dOutputShape([1, 1, 4, 4], [1, 1, 3, 3], { dilation: 2 })).toThrow(/dilated to 5x5/);
    expect(conv2dOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { dilation: 2 })).toEqual([1, 1, 1, 1]);
  });
});

describe('grouped and dilated conv2d kernels against float64', () => {
  beforeAll(async () => {
    await getRuntime();
  });

  CASES.forEach((c, i) => {
    it(label(c), async () => {
      const ws = weightShape(c);
      const x = f64(randomArray(count(c.x), 10 + i), c.x);
      const w = f64(randomArray(count(ws), 20 + i, 0.3), ws);
      const yShape = conv2dOutputShape(x.shape, w.shape, c.opts);
      const dy = f64(randomArray(count(yShape), 30 + i), yShape);
      const xt = Tensor.fromArray(Float32Array.from(x.data), x.shape);
      const wt = Tensor.fromArray(Float32Array.from(w.data), w.shape);
      const dyt = Tensor.fromArray(Float32Array.from(dy.data), dy.shape);
      const y = conv2dForward(xt, wt, c.opts);
      expect(y.shape).toEqual(yShape);
      assertClose(await read(y), conv2dForwardRef(x, w, c.opts).data, TOL, `${label(c)} forward`);
      const dx = conv2dInputGrad(dyt, wt, x.shape, c.opts);
      assertClose(await read(dx), conv2dInputGradRef(dy, w, x.shape, c.opts).data, TOL, `${label(c)} inputGrad`);
      const dw = conv2dWeightGrad(xt, dyt, w.shape, c.opts);
      assertClose(await read(dw), conv2dWeightGradRef(x, dy, w.shape, c.opts).data, TOL, `${label(c)} weightGrad`);
      for (const t of [xt, wt, dyt]) t.dispose();
    });
  });

  it('a batch whose weight gradient reduces over many positions (depthwise 3x3, 64 channels, 16x16)', async () => {
    const opts: Conv2dOptions = { padding: 1, groups: 64 };
    const x = f64(randomArray(3 * 64 * 16 * 16, 40), [3, 64, 16, 16]);
    const dy = f64(randomArray(3 * 64 * 16 * 16, 41), [3, 64, 16, 16]);
    const xt = Tensor.fromArray(Float32Array.from(x.data), x.shape);
    const dyt = Tensor.fromArray(Float32Array.from(dy.data), dy.shape);
    const dw = conv2dWeightGrad(xt, dyt, [64, 1, 3, 3], opts);
    assertClose(await read(dw), conv2dWeightGradRef(x, dy, [64, 1, 3, 3], opts).data, TOL, 'depthwise weightGrad');
    xt.dispose();
    dyt.dispose();
  });
});
