import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { assertClose, fixtureFiles, loadFixture, randomArray } from '../common/testing.js';
import { f64, type F64 } from '../common/f64.js';
import {
  conv2dForward,
  conv2dForwardRef,
  conv2dInputGrad,
  conv2dInputGradRef,
  conv2dOutputShape,
  conv2dWeightGrad,
  conv2dWeightGradRef,
  conv2dVariant,
  type Conv2dOptions,
  type KernelConfig,
} from './index.js';
import { kernelProfile } from '../profile.js';
import { availableVariants, lanePixelsPlan, pointwiseInputGradPlan, rowWindowPlan } from './variants.js';
import { convGeometry } from './geometry.js';
import { forwardProblem, inputGradProblems } from './gemm.js';
import { packedChunkRows, packedRowBytes } from './packed-weights.js';

interface Case {
  x: number[]; // N, Cin, H, W
  cout: number;
  k: number | [number, number];
  stride: number | [number, number];
  pad: number | [number, number];
}

// Awkward shapes: batch 1 and odd batches, sizes that are no multiple of any tile, 1x1/3x3/5x5,
// stride 1 and 2 on odd sizes, padding 0-2, channel counts 1, 3, 5, non-square everything.
const CASES: Case[] = [
  { x: [1, 1, 5, 5], cout: 1, k: 3, stride: 1, pad: 1 },
  { x: [3, 3, 7, 9], cout: 5, k: 3, stride: 2, pad: 1 },
  { x: [2, 5, 9, 7], cout: 3, k: 5, stride: 1, pad: 2 },
  { x: [1, 5, 11, 6], cout: 17, k: 5, stride: 2, pad: 0 },
  { x: [5, 3, 6, 6], cout: 16, k: 1, stride: 1, pad: 0 },
  { x: [3, 16, 9, 9], cout: 32, k: 1, stride: 2, pad: 0 },
  { x: [2, 7, 5, 5], cout: 9, k: 1, stride: 2, pad: 2 },
  { x: [1, 3, 4, 4], cout: 2, k: 3, stride: 1, pad: 0 },
  { x: [2, 2, 3, 3], cout: 3, k: 3, stride: 2, pad: 2 },
  { x: [3, 4, 8, 10], cout: 6, k: [3, 1], stride: [1, 2], pad: [1, 0] },
  { x: [2, 33, 6, 5], cout: 35, k: 3, stride: 1, pad: 1 },
  { x: [7, 16, 12, 12], cout: 16, k: 3, stride: 1, pad: 1 },
  { x: [3, 16, 13, 13], cout: 32, k: 3, stride: 2, pad: 1 },
  { x: [2, 64, 4, 4], cout: 64, k: 3, stride: 1, pad: 1 },
  { x: [2, 5, 6, 16], cout: 12, k: 3, stride: 1, pad: 1 },
  // Weights over one uniform binding at stride 2 (input-gradient phases share the packed rows).
  { x: [3, 32, 12, 10], cout: 64, k: 3, stride: 2, pad: 1 },
  // Stride 2 with dx rows of whole vec4s (the merged input gradient's vec4 stores), a partial
  // tile in both directions and 24 dx channels (a partial row group).
  { x: [2, 24, 18, 24], cout: 40, k: 3, stride: 2, pad: 1 },
  // 1x1 input gradients with dy rows of whole vec4s (the pointwise kernel): 16 -> 32 at stride 2
  // on a batch that fills no workgroup; 5 channels (weights that straddle vec4s) at strides
  // 2 and 3; stride 1 with 12-pixel rows.
  { x: [3, 16, 16, 16], cout: 32, k: 1, stride: 2, pad: 0 },
  { x: [1, 5, 7, 24], cout: 4, k: 1, stride: [2, 3], pad: 0 },
  { x: [2, 8, 4, 12], cout: 12, k: 1, stride: 1, pad: 0 },
];

function label(c: Case): string {
  return `x[${c.x}] cout ${c.cout} k ${c.k} s ${c.stride} p ${c.pad}`;
}

function weightShape(c: Case): number[] {
  const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
  return [c.cout, c.x[1], kh, kw];
}

async function read(t: Tensor): Promise<Float32Array> {
  const a = (await t.toArray()) as Float32Array;
  t.dispose();
  return a;
}

const TOL = { atol: 1e-5, rtol: 1e-4, relativeToMax: true };

async function checkAll(
  x: F64,
  w: F64,
  dy: F64 | undefined,
  opts: Conv2dOptions,
  what: string,
  expected?: { y: F64; dx: F64; dw: F64 },
) {
  const yShape = conv2dOutputShape(x.shape, w.shape, opts);
  const dyv =
    dy ??
    f64(
      randomArray(
        yShape.reduce((a, d) => a * d, 1),
        99,
      ),
      yShape,
    );
  const want = expected ?? {
    y: conv2dForwardRef(x, w, opts),
    dx: conv2dInputGradRef(dyv, w, x.shape, opts),
    dw: conv2dWeightGradRef(x, dyv, w.shape, opts),
  };
  const xt = Tensor.fromArray(Float32Array.from(x.data), x.shape);
  const wt = Tensor.fromArray(Float32Array.from(w.data), w.shape);
  const dyt = Tensor.fromArray(Float32Array.from(dyv.data), dyv.shape);
  const y = conv2dForward(xt, wt, opts);
  expect(y.shape).toEqual(yShape);
  const dx = conv2dInputGrad(dyt, wt, x.shape, opts);
  const dw = conv2dWeightGrad(xt, dyt, w.shape, opts);
  assertClose(await read(y), want.y.data, TOL, `${what} forward`);
  assertClose(await read(dx), want.dx.data, TOL, `${what} inputGrad`);
  assertClose(await read(dw), want.dw.data, TOL, `${what} weightGrad`);
  for (const t of [xt, wt, dyt]) t.dispose();
}

// The variants to test depend on the adapter, so the device is needed while collecting tests.
await getRuntime();

describe('conv2d references', () => {
  it('match a hand-computed case', () => {
    // 1x1x3x3 input, 2x2 all-ones kernel, stride 1: each output sums a 2x2 window.
    const x = f64([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = f64([1, 1, 1, 1], [1, 1, 2, 2]);
    expect(Array.from(conv2dForwardRef(x, w).data)).toEqual([12, 16, 24, 28]);
    const dx = conv2dInputGradRef(f64([1, 1, 1, 1], [1, 1, 2, 2]), w, [1, 1, 3, 3]);
    expect(Array.from(dx.data)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    const dw = conv2dWeightGradRef(x, f64([1, 0, 0, 0], [1, 1, 2, 2]), [1, 1, 2, 2]);
    expect(Array.from(dw.data)).toEqual([1, 2, 4, 5]);
  });
});

/** Every conv case of the ops fixture, the repository's and ../shared's where present. */
function fixtureCases(): { name: string; run: () => Promise<void> }[] {
  const out: { name: string; run: () => Promise<void> }[] = [];
  for (const { source, path } of fixtureFiles('ops-golden-s0')) {
    const fx = loadFixture(path);
    for (let i = 0; fx.tensors.has(`conv${i}.params`); i++) {
      const get = (k: string) => fx.tensors.get(`conv${i}.${k}`)!;
      const [n, cin, h, w, cout, k, stride, pad] = Array.from(get('params').data as Int32Array);
      const t = (k: string) => f64(get(k).data as Float32Array, get(k).shape);
      out.push({
        name: `PyTorch fixture (${source}) conv${i}: N${n} ${cin}->${cout} ${h}x${w} k${k} s${stride} p${pad}`,
        run: () =>
          checkAll(t('x'), t('w'), t('dy'), { stride, padding: pad }, `conv${i}`, {
            y: t('y'),
            dx: t('dx'),
            dw: t('dw'),
          }),
      });
    }
  }
  return out;
}

function randomCase(c: Case, seed: number): () => Promise<void> {
  return async () => {
    const opts: Conv2dOptions = { stride: c.stride, padding: c.pad };
    const ws = weightShape(c);
    const x = f64(
      randomArray(
        c.x.reduce((a, d) => a * d, 1),
        10 + seed,
      ),
      c.x,
    );
    const w = f64(
      randomArray(
        ws.reduce((a, d) => a * d, 1),
        20 + seed,
        0.3,
      ),
      ws,
    );
    await checkAll(x, w, undefined, opts, label(c));
  };
}

// The variant this adapter runs gets every case; the others (kept correct for other adapters)
// get the cases that cover their code paths: stride phases, 5x5, 1x1 with padding, non-square.
const chosen = conv2dVariant();
for (const variant of availableVariants()) {
  const full = variant === chosen;
  describe(`conv2d (${variant} kernels${full ? ', chosen for this adapter' : ''}) against float64`, () => {
    beforeAll(() => kernelProfile().setOptions({ conv2dVariant: variant }));
    afterAll(() => kernelProfile().setOptions({}));
    CASES.forEach((c, i) => {
      if (full || [1, 2, 6, 9].includes(i)) it(label(c), randomCase(c, i));
    });
    for (const fc of fixtureCases()) if (full) it(fc.name, fc.run);
  });
}

// The tiled kernel's tiles for GEMMs of more rows (tileConfigFor picks them by row count; the
// cases above have few rows), and a weight gradient split into many more parts.
for (const [what, cfg] of [
  ['32 x 64 tiles, reduction split for 4096 workgroups', { tm: 32, tn: 64, tk: 16, rm: 4, rn: 4, splitGroups: 4096 }],
  ['64 x 64 tiles', { tm: 64, tn: 64, tk: 16, rm: 4, rn: 4 }],
] as [string, KernelConfig][]) {
  describe(`conv2d tiled kernels, ${what}`, () => {
    beforeAll(() => kernelProfile().setOptions({ conv2dVariant: 'tiled', conv2dConfig: cfg }));
    afterAll(() => kernelProfile().setOptions({}));
    CASES.forEach((c, i) => {
      if ([3, 5, 13].includes(i)) it(label(c), randomCase(c, i));
    });
  });
}

// The subgroup kernel's other blocks and its row-segment window, forced on the awkward shapes
// (partial tiles, stride 2, 5x5, input-gradient phases whose taps run backwards).
if (availableVariants().includes('subgroup')) {
  const forced: [string, KernelConfig][] = [
    ['window 2x32, packed uniform weights', { rm: 2, tc: 32, sgs: 1, window: true, rowWindow: false }],
    [
      'window 2x32, weights from storage, scalar stores',
      { rm: 2, tc: 32, sgs: 1, window: true, uboRows: 0, vecOut: false, rowWindow: false },
    ],
    ['window 4x16, 2 subgroups, packed uniform weights', { rm: 4, tc: 16, sgs: 2, window: true, rowWindow: false }],
    ['1x16, 2 subgroups, K unrolled by 3', { rm: 1, tc: 16, sgs: 2, unrollK: 3, rowWindow: false }],
    ['weight-grad pair window 2x(10 pairs)', { rm: 2, tc: 32, sgs: 1, wpairs: 10 }],
    ['weight-grad pair window 4x(3 pairs), 2 subgroups, dy as vec4', { rm: 4, tc: 16, sgs: 2, wpairs: 3, avec: true }],
    ['row window everywhere (also 1x1 and the stem), 2-row tiles', { rowWindow: true, tc: 32, tileRows: 2 }],
    [
      'row window everywhere, 4 rows per lane, 2 subgroups, tiles by width',
      { rowWindow: true, rm: 4, tc: 32, sgs: 2, tileRows: 0 },
    ],
    ['no row window (strided input gradients as one GEMM per phase)', { rowWindow: false }],
    ['no lane-pixel kernel (input gradients onto at most 4 channels by the row window)', { lanePixels: false }],
    ['pointwise kernel for every 1x1 input gradient, at most 4 pixels a lane', { pointwise: true, pointwisePixels: 4 }],
    ['no pointwise kernel (1x1 input gradients as phase GEMMs)', { pointwise: false }],
  ];
  for (const [what, cfg] of forced) {
    describe(`conv2d subgroup kernels, ${what}`, () => {
      beforeAll(() => kernelProfile().setOptions({ conv2dVariant: 'subgroup', conv2dConfig: cfg }));
      afterAll(() => kernelProfile().setOptions({}));
      CASES.forEach((c, i) => {
        // Pair windows: also rows of 12 pixels (a partial block of 8), 4 and 16 (dy as vec4).
        // Packed uniform weights: also 64 -> 64, whose weights take four uniform bindings.
        if ([1, 2, 3, 9, 12].includes(i) || (cfg.wpairs && [11, 13, 14].includes(i)) || (cfg.window && i === 13))
          it(label(c), randomCase(c, i));
        else if (cfg.rowWindow !== undefined && [0, 5, 6, 7, 8, 10, 13, 14, 15, 16].includes(i))
          it(label(c), randomCase(c, i));
        else if (cfg.lanePixels === false && [0, 4, 7].includes(i)) it(label(c), randomCase(c, i));
        else if (cfg.pointwise !== undefined && [17, 18, 19].includes(i)) it(label(c), randomCase(c, i));
      });
    });
  }
}

describe('conv2d row-window kernel', () => {
  it('takes the ResNet20 convolutions it measured faster on, on the subgroup variant', () => {
    if (conv2dVariant() !== 'subgroup') return;
    const g = (cin: number, cout: number, size: number, k: number, stride: number) =>
      convGeometry('test', [2, cin, size, size], [cout, cin, k, k], { stride, padding: (k - 1) / 2 });
    const has = (dir: 'forward' | 'transposed', geo: ReturnType<typeof g>) =>
      rowWindowPlan(`conv2d.${dir}`, dir, geo) !== undefined;
    // Every 3x3 input gradient, the stem's included; no 1x1 one.
    for (const geo of [
      g(3, 16, 32, 3, 1),
      g(16, 16, 32, 3, 1),
      g(16, 32, 32, 3, 2),
      g(32, 64, 16, 3, 2),
      g(64, 64, 8, 3, 1),
    ])
      expect(has('transposed', geo)).toBe(true);
    expect(has('transposed', g(16, 32, 32, 1, 2))).toBe(false);
    // Every 3x3 forward but the stem's, the strided ones included; no 1x1 one.
    expect(has('forward', g(32, 32, 16, 3, 1))).toBe(true);
    expect(has('forward', g(32, 64, 16, 3, 2))).toBe(true);
    expect(has('forward', g(16, 32, 32, 3, 2))).toBe(true);
    expect(has('forward', g(3, 16, 32, 3, 1))).toBe(false);
    expect(has('forward', g(16, 32, 32, 1, 2))).toBe(false);
    // The stem's input gradient (3 channels) takes the lane-pixel kernel first.
    expect(lanePixelsPlan('conv2d.inputGrad', g(3, 16, 32, 3, 1))).toBeDefined();
    expect(lanePixelsPlan('conv2d.inputGrad', g(16, 16, 32, 3, 1))).toBeUndefined();
    // The 16 -> 32 shortcut's input gradient takes the pointwise kernel; the 32 -> 64 one, where it tied, not.
    expect(pointwiseInputGradPlan('conv2d.inputGrad', g(16, 32, 32, 1, 2))).toBeDefined();
    expect(pointwiseInputGradPlan('conv2d.inputGrad', g(32, 64, 16, 1, 2))).toBeUndefined();
  });
});

describe('conv2d pointwise kernel', () => {
  it('stores nothing from lanes past the last dy row segment', async () => {
    if (conv2dVariant() !== 'subgroup') return;
    // 3 images of 8 rows, one 8-pixel segment a row: 24 lanes of work in a workgroup of 64.
    const g = convGeometry('test', [3, 16, 16, 16], [32, 16, 1, 1], { stride: 2 });
    const plan = pointwiseInputGradPlan('conv2d.inputGrad', g)!;
    expect([plan.lanes(3), plan.groups(3)]).toEqual([24, 1]);
    // dx bound inside a larger buffer of sentinels: a stray lane would store past dx.
    const dxSize = 3 * 16 * 16 * 16;
    const big = Tensor.fromArray(new Float32Array(8 * 16 * 16 * 16).fill(7), [8 * 16 * 16 * 16]);
    const w = Tensor.fromArray(Float32Array.from(randomArray(32 * 16, 1)), [32, 16, 1, 1]);
    const dy = Tensor.fromArray(Float32Array.from(randomArray(3 * 32 * 8 * 8, 2)), [3, 32, 8, 8]);
    plan.kernel.launch({ w, dy, dx: big }, { batch: 3 }, [plan.groups(3)]);
    const after = (await big.toArray()) as Float32Array;
    expect(after.subarray(dxSize).every((v) => v === 7)).toBe(true);
    for (const t of [big, w, dy]) t.dispose();
  });
});

describe('conv2d packed uniform weights', () => {
  it('split into uniform bindings of whole row groups where the weights exceed one', () => {
    if (!availableVariants().includes('subgroup')) return;
    const g = convGeometry('test', [2, 64, 8, 8], [64, 64, 3, 3], { padding: 1 });
    const maxUniform = runtime().limits.maxUniformBufferBindingSize;
    for (const p of [forwardProblem(g), ...inputGradProblems(g)]) {
      const rows = packedChunkRows(p, 16);
      expect(rows * packedRowBytes(p)).toBeLessThanOrEqual(maxUniform);
      if (64 * packedRowBytes(p) > maxUniform) expect(rows).toBeLessThan(64);
      expect(rows % 16).toBe(0);
      expect(64 % rows).toBe(0);
    }
    // kw 5 > 4
    expect(packedChunkRows(forwardProblem(convGeometry('test', [1, 3, 8, 8], [4, 3, 5, 5], {})), 8)).toBe(0);
  });
});

describe('conv2d argument errors', () => {
  it('name the kernel, the shapes and the fix', () => {
    const x = Tensor.zeros([2, 3, 8, 8]);
    const w = Tensor.zeros([4, 5, 3, 3]);
    expect(() => conv2dForward(x, w)).toThrow(/conv2d\.forward.*\[2, 3, 8, 8\].*\[4, 5, 3, 3\]/);
    const wi = Tensor.zeros([4, 3, 3, 3], 'i32');
    expect(() => conv2dForward(x, wi)).toThrow(/conv2d\.forward: w must be f32, got i32/);
    const big = Tensor.zeros([4, 3, 11, 11]);
    expect(() => conv2dForward(x, big)).toThrow(/11x11 kernel does not fit the 8x8 input/);
    expect(() => conv2dForward(x, Tensor.zeros([4, 3, 3]))).toThrow(/weight must be 4-D/);
    expect(() => conv2dForward(x, Tensor.zeros([4, 3, 3, 3]), { stride: 0 })).toThrow(/stride must be an integer >= 1/);
    const w3 = Tensor.zeros([4, 3, 3, 3]);
    expect(() => conv2dInputGrad(Tensor.zeros([2, 4, 7, 7]), w3, [2, 3, 8, 8], { padding: 1 })).toThrow(
      /conv2d\.inputGrad: dy \[2, 4, 7, 7\] must be the conv output shape \[2, 4, 8, 8\]/,
    );
    expect(() => conv2dWeightGrad(x, Tensor.zeros([2, 4, 6, 6]), [4, 2, 3, 3])).toThrow(
      /conv2d\.weightGrad: input \[2, 3, 8, 8\] has 3 channels/,
    );
    for (const t of [x, w, wi, big, w3]) t.dispose();
  });

  it('reject a buffer over the device limit before allocating it', () => {
    const limit = runtime().limits.maxStorageBufferBindingSize;
    const x = Tensor.zeros([1, 1, 4, 4]);
    const w = Tensor.zeros([1, 1, 1, 1]);
    // dx of this shape would need more than the limit; only its shape is used.
    const huge = [Math.ceil(limit / 4 / 16) + 1, 1, 4, 4];
    const dy = Tensor.zeros([1, 1, 4, 4]);
    expect(() => conv2dInputGrad(dy.reshape([1, 1, 4, 4]), w, huge)).toThrow(
      /dy \[1, 1, 4, 4\] must be the conv output shape/,
    );
    const dyHuge = { shape: huge, dtype: 'f32', size: huge.reduce((a, d) => a * d, 1) } as unknown as Tensor;
    expect(() => conv2dInputGrad(dyHuge, w, huge)).toThrow(
      new RegExp(
        `conv2d\\.inputGrad: dy \\[${huge.join(', ')}\\] takes \\d+ bytes, ` +
          `over the device's maxStorageBufferBindingSize of ${limit}`,
      ),
    );
    for (const t of [x, w, dy]) t.dispose();
  });
});
