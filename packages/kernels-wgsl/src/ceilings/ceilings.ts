// What this adapter can do at best, measured in the same run as the kernels they judge:
// - ALU: GFLOP/s of a kernel that does nothing but fused multiply-adds on many independent
//   accumulators per invocation (no memory traffic beyond one store each);
// - bandwidth: GB/s of a vec4 copy between two large buffers (bytes read + bytes written).
// Sizes grow until one launch lasts long enough to time, so a fast GPU is measured as fairly
// as lavapipe.

import { runtime, Tensor } from '@wgtorch/tensor';
import { grid1d } from '../common/grid.js';
import { defineKernel } from '../common/kernel.js';
import { timeRuns, type TimingOptions } from './timing.js';

// 32 accumulators and 8 steps per loop iteration: lavapipe pays a loop iteration about what 16
// FMAs cost, so a 1-step loop reads less than half of the ALU rate.
const ACCUMULATORS = 32;
const UNROLL = 8;
const ALU_WG = 64;

function aluKernel() {
  const init = Array.from({ length: ACCUMULATORS }, (_, i) => `  var x${i} = seed + ${i}.0;`).join('\n');
  const one = Array.from({ length: ACCUMULATORS }, (_, i) => `    x${i} = fma(x${i}, a, b);`).join('\n');
  const step = Array.from({ length: UNROLL }, () => one).join('\n');
  const sum = Array.from({ length: ACCUMULATORS }, (_, i) => `x${i}`).join(' + ');
  return defineKernel({
    name: 'ceilings.alu',
    params: { iters: 'u32', a: 'f32', b: 'f32' },
    bindings: { out: { type: 'f32', access: 'read_write' } },
    workgroupSize: ALU_WG,
    body: `  let i = gid.x + gid.y * nwg.x * ${ALU_WG}u;
  let seed = f32(i) * 1e-6;
  let a = params.a;
  let b = params.b;
${init}
  for (var k = 0u; k < params.iters; k++) {
${step}
  }
  out[i] = ${sum};`,
  });
}

const COPY_WG = 256;
// Each invocation copies COPY_PER vec4s, grid-strided: on lavapipe 4 per invocation moves more
// bytes than 1; 8 and 16 are no better.
const COPY_PER = 4;
const copies = Array.from(
  { length: COPY_PER },
  (_, k) => `  { let i = first + ${k}u * stride; if (i < params.n) { dst[i] = src[i]; } }`,
).join('\n');
const copyKernel = defineKernel({
  name: 'ceilings.bandwidth',
  params: { n: 'u32' },
  bindings: { src: { type: 'vec4f' }, dst: { type: 'vec4f', access: 'read_write' } },
  workgroupSize: COPY_WG,
  body: `  let stride = nwg.x * nwg.y * ${COPY_WG}u;
  let first = gid.x + gid.y * nwg.x * ${COPY_WG}u;
${copies}`,
});

/** A measured ceiling of the adapter: ALU GFLOP/s or memory GB/s. */
export interface Ceiling {
  /** GFLOP/s (ALU) or GB/s (bandwidth). */
  value: number;
  medianMs: number;
  /** What one launch did: FLOPs or bytes. */
  work: number;
  method: string;
}

/** Workgroups folded into [x, y] (a dimension holds at most 65535). */
const grid = (groups: number) => grid1d(groups, 1);

/** GFLOP/s of pure FMA work (2 FLOPs per fma). */
export async function measureAluCeiling(opts: TimingOptions & { minMs?: number } = {}): Promise<Ceiling> {
  const k = aluKernel();
  const minMs = opts.minMs ?? 15;
  let groups = 256;
  let iters = 32;
  for (;;) {
    const [gx, gy] = grid(groups);
    const inv = gx * gy * ALU_WG;
    const out = Tensor.empty([inv], 'f32', 'ceilings.alu');
    const run = () => k.launch({ out }, { iters, a: 0.999, b: 1e-4 }, [gx, gy]);
    const t = await timeRuns(run, { ...opts, batches: 1, warmup: 1 });
    const big = groups >= 65535 * 4 && iters >= 4096;
    if (t.medianMs >= minMs || big) {
      const full = await timeRuns(run, { warmup: 0, ...opts });
      out.dispose();
      const flops = 2 * ACCUMULATORS * UNROLL * iters * inv;
      return { value: flops / full.medianMs / 1e6, medianMs: full.medianMs, work: flops, method: full.method };
    }
    out.dispose();
    const grow = Math.min(16, Math.max(2, Math.ceil(minMs / Math.max(t.medianMs, 0.01))));
    if (groups < 65535 * 4) groups = Math.min(65535 * 4, groups * grow);
    else iters = Math.min(4096, iters * grow);
  }
}

/** GB/s of a vec4 copy, counting bytes read plus bytes written. */
export async function measureBandwidthCeiling(opts: TimingOptions & { bytes?: number } = {}): Promise<Ceiling> {
  const rt = runtime();
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  // 8 MiB: the largest ResNet20 activation at batch 128 ([128, 16, 32, 32] f32), so the ceiling
  // and the kernels it judges see the same cache levels.
  const bytes = Math.min(opts.bytes ?? 8 << 20, Math.floor(limit / 16) * 16);
  const n = bytes / 16;
  const src = Tensor.zeros([n * 4]);
  const dst = Tensor.empty([n * 4], 'f32', 'ceilings.bandwidth');
  const g = grid(Math.ceil(n / (COPY_WG * COPY_PER)));
  const t = await timeRuns(() => copyKernel.launch({ src, dst }, { n }, g), opts);
  src.dispose();
  dst.dispose();
  return { value: (2 * bytes) / t.medianMs / 1e6, medianMs: t.medianMs, work: 2 * bytes, method: t.method };
}
