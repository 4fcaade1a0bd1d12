// The custom-op API: an op from existing ops (customOp) passes gradcheck and matches float64 on
// the gpu; an op around user WGSL kernels (customKernelOp, a "scaled square") gives the right
// forward and gradient on the gpu against its float64 version; misuse gets errors naming the op;
// neither leaks device buffers.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor as DeviceTensor } from '@wgtorch/tensor';
import { defineKernel, grid1d, FLAT_INDEX_WGSL, type F64 } from '@wgtorch/kernels-wgsl';
import * as F from './index.js';
import {
  checkGpuGradients,
  customKernelOp,
  customOp,
  gradcheck,
  noGrad,
  tensor,
  tidy,
  type CheckInput,
  type Tensor,
} from './index.js';

beforeAll(async () => {
  await getRuntime();
});

const input = (data: number[], shape: number[]): CheckInput => ({ data, shape, requiresGrad: true });

// y = scale * x^3 + w * x, with a non-tensor argument between the tensors.
const cubic = customOp({
  name: 'cubic',
  forward(ctx, x: Tensor, scale: number, w: Tensor) {
    ctx.saveForBackward(x, w);
    ctx.scale = scale;
    return F.add(F.mul(F.mul(F.mul(x, x), x), scale), F.mul(w, x));
  },
  backward(ctx, dy) {
    const [x, w] = ctx.saved;
    const scale = ctx.scale as number;
    const dx = F.mul(dy, F.add(F.mul(F.mul(x, x), 3 * scale), w));
    const dw = F.sum(F.mul(dy, x), 0); // w broadcasts over x's first dim
    return [ctx.needsInputGrad[0] ? dx : null, null, dw];
  },
});

const x23 = input([0.3, -1.2, 0.7, 1.5, -0.4, 0.9], [2, 3]);
const w3 = input([0.5, -0.25, 2], [3]);

describe('customOp (forward and backward from existing ops)', () => {
  it('passes gradcheck on cpu64', async () => {
    const r = await gradcheck((x, w) => cubic(x, 0.7, w), [x23, w3]);
    expect(r.ok, r.message).toBe(true);
  });

  it('a wrong backward fails gradcheck (the check can fail)', async () => {
    const wrong = customOp({
      name: 'wrongSquare',
      forward: (ctx, x: Tensor) => (ctx.saveForBackward(x), F.mul(x, x)),
      backward: (ctx, dy) => [F.mul(dy, ctx.saved[0])], // misses the factor 2
    });
    expect((await gradcheck((x) => wrong(x), [x23])).ok).toBe(false);
  });

  it('matches float64 on the gpu', async () => {
    const r = await checkGpuGradients((x, w) => cubic(x, 0.7, w), [x23, w3]);
    expect(r.ok, r.message).toBe(true);
  });

  it('records a gradFn, skips recording under noGrad, and leaks no buffers', async () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const w = tensor([1, 1, 1]);
    const y = cubic(x, 1, w);
    expect(y.gradFn?.name).toBe('cubic');
    expect([...(await y.toArray())]).toEqual([2, 10, 30]);
    expect(noGrad(() => cubic(x, 1, w)).requiresGrad).toBe(false);
    const before = runtime().pool.getStats().liveBuffers;
    for (let i = 0; i < 3; i++) tidy(() => F.sum(cubic(x, 1, w)).backward());
    x.grad!.dispose();
    x.grad = null;
    expect(runtime().pool.getStats().liveBuffers).toBe(before);
    for (const t of [x, w, y]) t.dispose();
  });

  for (const backend of ['gpu', 'cpu64'] as const) {
    it(`takes int32 tensors when it declares dtype (${backend})`, async () => {
      const timesCount = customOp({
        name: 'timesCount',
        dtype: ([a, b]) => (a === 'float32' && b === 'int32' ? 'float32' : 'int32'),
        forward(ctx, x: Tensor, n: Tensor) {
          ctx.saveForBackward(n);
          return F.mul(x, n.float());
        },
        backward(ctx, dy) {
          const [n] = ctx.saved;
          expect(n.dtype).toBe('int32');
          return [F.mul(dy, n.float()), null];
        },
      });
      const x = tensor([1.5, -2, 4], { backend, requiresGrad: true });
      const n = tensor([2, 3, -1], { backend, dtype: 'int32' });
      const y = timesCount(x, n);
      expect([...(await y.toArray())]).toEqual([3, -6, -4]);
      F.sum(y).backward();
      expect([...(await x.grad!.toArray())]).toEqual([2, 3, -1]);
    });
  }

  it('refuses misuse with errors naming the op', () => {
    const x = tensor([1, 2], { backend: 'cpu64', requiresGrad: true });
    const badShape = customOp({
      name: 'badShape',
      forward: (_ctx, a: Tensor) => F.sum(a),
      backward: (_ctx, dy) => [dy],
    });
    expect(() => badShape(x).backward()).toThrow(
      "badShape: backward's gradient of argument 0 is [], but the argument is [2]",
    );
    const badCount = customOp({
      name: 'badCount',
      forward: (_ctx, a: Tensor) => F.mul(a, 2),
      backward: (_ctx, dy) => [dy, dy],
    });
    expect(() => F.sum(badCount(x)).backward()).toThrow('badCount: backward returned 2 gradient(s) for 1 argument(s)');
    const notTensor = customOp({ name: 'notTensor', forward: (_ctx, _a: Tensor) => 3 as unknown as Tensor });
    expect(() => notTensor(x)).toThrow('notTensor: forward must return a tensor (one output), got a number');
    expect(() => cubic(tensor([1], { backend: 'cpu64', dtype: 'int32' }), 1, x)).toThrow(
      'cubic: tensor argument 0 is int32',
    );
    expect(() => (cubic as (...a: unknown[]) => Tensor)(1, 2)).toThrow('cubic: needs at least one tensor argument');
  });
});

// ---- a user's own WGSL kernels: y = s * x^2, dx = 2 s x dy ----

const WG = 64;
const squareForward = defineKernel({
  name: 'user.scaledSquare',
  params: { n: 'u32', s: 'f32' },
  bindings: { x: { type: 'f32' }, y: { type: 'f32', access: 'read_write' } },
  workgroupSize: WG,
  body: `  let i = ${FLAT_INDEX_WGSL(WG)};\n  if (i >= params.n) { return; }\n  y[i] = params.s * x[i] * x[i];`,
});
const squareBackward = defineKernel({
  name: 'user.scaledSquareBackward',
  params: { n: 'u32', s: 'f32' },
  bindings: { x: { type: 'f32' }, dy: { type: 'f32' }, dx: { type: 'f32', access: 'read_write' } },
  workgroupSize: WG,
  body: `  let i = ${FLAT_INDEX_WGSL(WG)};\n  if (i >= params.n) { return; }\n  dx[i] = 2.0 * params.s * x[i] * dy[i];`,
});

const scaledSquare = customKernelOp({
  name: 'scaledSquare',
  gpu: {
    forward(ctx, x: DeviceTensor, s: number) {
      ctx.saveForBackward(x);
      ctx.s = s;
      const y = DeviceTensor.empty(x.shape, 'f32');
      squareForward.launch({ x, y }, { n: x.size, s }, grid1d(x.size, WG));
      return y;
    },
    backward(ctx, dy) {
      const [x] = ctx.saved;
      const dx = DeviceTensor.empty(x.shape, 'f32');
      squareBackward.launch({ x, dy, dx }, { n: x.size, s: ctx.s as number }, grid1d(x.size, WG));
      return [dx, null];
    },
  },
  cpu64: {
    forward(ctx, x: F64, s: number) {
      ctx.saveForBackward(x);
      ctx.s = s;
      return { data: x.data.map((v) => s * v * v), shape: [...x.shape] };
    },
    backward(ctx, dy) {
      const [x] = ctx.saved;
      return [{ data: x.data.map((v, i) => 2 * (ctx.s as number) * v * dy.data[i]), shape: [...x.shape] }, null];
    },
  },
});

describe('customKernelOp (a user WGSL kernel)', () => {
  const n = 131; // not a multiple of the workgroup
  const xs = input(
    Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 2),
    [n],
  );

  it('gives the right forward and gradient on the gpu against float64', async () => {
    const r = await checkGpuGradients((x) => scaledSquare(x, 1.5), [xs]);
    expect(r.ok, r.message).toBe(true);
    // And against the formula directly.
    const x = tensor(xs.data, xs.shape, { requiresGrad: true });
    const y = scaledSquare(x, 1.5);
    F.sum(y).backward();
    const yv = await y.toArray();
    const gv = await x.grad!.toArray();
    for (let i = 0; i < n; i++) {
      const v = Math.fround(xs.data[i]);
      expect(yv[i]).toBeCloseTo(1.5 * v * v, 5);
      expect(gv[i]).toBeCloseTo(3 * v, 5);
    }
    x.dispose();
    y.dispose();
  });

  it('its float64 version passes gradcheck, composed with other ops', async () => {
    const r = await gradcheck((x, w) => F.mul(scaledSquare(x, -0.5), w), [x23, w3]);
    expect(r.ok, r.message).toBe(true);
  });

  it('leaks no buffers over forward and backward', () => {
    const x = tensor(xs.data, xs.shape, { requiresGrad: true });
    const before = runtime().pool.getStats().liveBuffers;
    for (let i = 0; i < 3; i++) tidy(() => F.sum(scaledSquare(x, 2)).backward());
    x.grad!.dispose();
    x.grad = null;
    expect(runtime().pool.getStats().liveBuffers).toBe(before);
    x.dispose();
  });

  it('without a cpu64 version, says so on cpu64 tensors', () => {
    const gpuOnly = customKernelOp({ name: 'gpuOnly', gpu: { forward: (_ctx, x: DeviceTensor) => x.clone() } });
    expect(() => gpuOnly(tensor([1], { backend: 'cpu64' }))).toThrow('gpuOnly: this custom kernel op has no cpu64');
  });
});
