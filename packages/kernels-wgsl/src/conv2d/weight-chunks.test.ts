// Packed weights over several uniform bindings (weight-chunks.ts): forwards and input gradients
// whose packed weights take 2 to 12 chunks, against float64, on both kernels that read them
// (the row window and the GEMM window); and one dispatch per convolution.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { assertClose, randomArray } from '../common/testing.js';
import { f64 } from '../common/f64.js';
import { kernelProfile } from '../profile.js';
import { conv2dForward, conv2dForwardRef, conv2dInputGrad, conv2dInputGradRef, conv2dOutputShape } from './index.js';
import { forwardProblem, inputGradProblems } from './gemm.js';
import { convGeometry, type Conv2dOptions } from './geometry.js';
import { availableVariants, gemmPlan, rowWindowPlan } from './variants.js';

await getRuntime();

interface ChunkCase {
  x: [number, number, number, number];
  cout: number;
  stride: number;
  /** Chunks of the forward's and the input gradient's packed weights (0: not packed). */
  chunks: [number, number];
}

// 3x3, padding 1. Rows of 64 channels take 3072 bytes packed, so 16-row chunks on lavapipe's 64 KiB bindings.
const CASES: ChunkCase[] = [
  { x: [2, 32, 12, 10], cout: 64, stride: 2, chunks: [2, 2] },
  { x: [2, 64, 6, 6], cout: 48, stride: 1, chunks: [3, 4] },
  { x: [2, 64, 9, 9], cout: 48, stride: 2, chunks: [3, 4] },
  { x: [2, 48, 6, 6], cout: 64, stride: 1, chunks: [4, 3] },
  { x: [1, 64, 5, 5], cout: 80, stride: 1, chunks: [5, 4] },
  // More chunks than a dispatch can bind beside the params (11 of the default 12): two dispatches.
  { x: [1, 64, 4, 4], cout: 192, stride: 1, chunks: [12, 0] },
];

const label = (c: ChunkCase) => `x[${c.x}] -> ${c.cout} s${c.stride}`;
const TOL = { atol: 1e-5, rtol: 1e-4, relativeToMax: true };
// Chunk sizes depend on the device's uniform binding size; the counts above assume 64 KiB.
const applies = availableVariants().includes('subgroup') && runtime().limits.maxUniformBufferBindingSize === 65536;

function setup(c: ChunkCase) {
  const opts: Conv2dOptions = { stride: c.stride, padding: 1 };
  const wShape = [c.cout, c.x[1], 3, 3];
  const yShape = conv2dOutputShape(c.x, wShape, opts);
  const x = f64(
    randomArray(
      c.x.reduce((a, d) => a * d, 1),
      1,
    ),
    c.x,
  );
  const w = f64(
    randomArray(
      wShape.reduce((a, d) => a * d, 1),
      2,
      0.3,
    ),
    wShape,
  );
  const dy = f64(
    randomArray(
      yShape.reduce((a, d) => a * d, 1),
      3,
    ),
    yShape,
  );
  const g = convGeometry('test', c.x, wShape, opts);
  return { opts, x, w, dy, g };
}

/** The kernels of the dispatches `op` records, in order. */
function dispatchNames(op: () => Tensor): string[] {
  const spy = vi.spyOn(runtime().dispatcher, 'dispatch');
  try {
    op().dispose();
    return spy.mock.calls.map(([src]) => ('pipeline' in src ? src.source.name : src.name));
  } finally {
    spy.mockRestore();
  }
}

for (const [what, cfg] of [
  ['row-window kernels', {}],
  ['GEMM window kernels', { rowWindow: false }],
] as const) {
  describe.runIf(applies)(`conv2d packed weights in several uniform bindings, ${what}`, () => {
    beforeAll(() => kernelProfile().setOptions({ conv2dVariant: 'subgroup', conv2dConfig: cfg }));
    afterAll(() => kernelProfile().setOptions({}));
    for (const c of CASES) {
      it(label(c), async () => {
        const { opts, x, w, dy, g } = setup(c);
        // The case covers what it claims: the plans' chunk counts.
        const plans =
          'rowWindow' in cfg
            ? [
                gemmPlan('conv2d.forward', forwardProblem(g), 'subgroup'),
                gemmPlan('conv2d.inputGrad', inputGradProblems(g)[0], 'subgroup'),
              ]
            : [rowWindowPlan('conv2d.forward', 'forward', g), rowWindowPlan('conv2d.inputGrad', 'transposed', g)];
        expect(plans.map((p) => p?.chunks?.count ?? 0)).toEqual(c.chunks);
        const xt = Tensor.fromArray(Float32Array.from(x.data), x.shape);
        const wt = Tensor.fromArray(Float32Array.from(w.data), w.shape);
        const dyt = Tensor.fromArray(Float32Array.from(dy.data), dy.shape);
        const y = conv2dForward(xt, wt, opts);
        const dx = conv2dInputGrad(dyt, wt, x.shape, opts);
        assertClose((await y.toArray()) as Float32Array, conv2dForwardRef(x, w, opts).data, TOL, `${label(c)} forward`);
        assertClose(
          (await dx.toArray()) as Float32Array,
          conv2dInputGradRef(dy, w, x.shape, opts).data,
          TOL,
          `${label(c)} inputGrad`,
        );
        for (const t of [xt, wt, dyt, y, dx]) t.dispose();
      });
    }
  });
}

describe.runIf(applies)('conv2d packed weights in several uniform bindings, dispatches', () => {
  it('one dispatch per convolution beside its packWeights, up to 11 chunks', () => {
    const { opts, x, w, dy } = setup(CASES[1]);
    const wt = Tensor.fromArray(Float32Array.from(w.data), w.shape);
    const xt = Tensor.fromArray(Float32Array.from(x.data), x.shape);
    const dyt = Tensor.fromArray(Float32Array.from(dy.data), dy.shape);
    const before = runtime().dispatcher.counters.dispatches;
    expect(dispatchNames(() => conv2dForward(xt, wt, opts))).toEqual(['conv2d.packWeights', 'conv2d.forward']);
    expect(dispatchNames(() => conv2dInputGrad(dyt, wt, x.shape, opts))).toEqual([
      'conv2d.packWeights',
      'conv2d.inputGrad',
    ]);
    expect(runtime().dispatcher.counters.dispatches - before).toBe(4);
    // 12 chunks: as many dispatches as it takes binding 11 chunks each.
    const big = setup(CASES[CASES.length - 1]);
    const wb = Tensor.fromArray(Float32Array.from(big.w.data), big.w.shape);
    const xb = Tensor.fromArray(Float32Array.from(big.x.data), big.x.shape);
    const per = runtime().limits.maxUniformBuffersPerShaderStage - 1;
    const names = dispatchNames(() => conv2dForward(xb, wb, big.opts));
    expect(names.filter((n) => n === 'conv2d.forward').length).toBe(Math.ceil(12 / per));
    for (const t of [wt, xt, dyt, wb, xb]) t.dispose();
  });
});
