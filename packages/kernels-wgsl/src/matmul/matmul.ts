// Matrix multiply with either operand transposed, plain or batched:
// [M, K] x [K, N] -> [M, N] and [B, M, K] x [B, K, N] -> [B, M, N].
//
// Two kernels, chosen with the convolutions' variant (conv2d/variants.ts, autotuned at startup):
// - 'tiled' (GPUs): each invocation accumulates a TM x TN block of C in registers, reading A and
//   B straight from storage (the blocks are small enough to stay in cache).
// - 'subgroup' (lavapipe): modelled on the convolutions' subgroup GEMM (conv2d/subgroup.ts),
//   for plain matrices. A subgroup of 8 lanes owns 8*SG_RM rows x SG_TC columns of C; per step of the
//   reduction each lane gathers its SG_RM values of A and SG_TC/8 of B, and the subgroup shares
//   the B values by subgroupBroadcast: SG_RM*SG_TC multiply-adds for SG_RM + SG_TC/8 gathers
//   a lane, against 16 for 8 in the tiled kernel (each gather there is a per-lane loop).
// Edges clamp their loads and skip stores.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { SUBGROUP_SIZE } from '../conv2d/subgroup.js';
import { conv2dVariant } from '../conv2d/variants.js';
import { fill } from '../elementwise/elementwise.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { checkF32 } from '../elementwise/launch.js';

/** Transposes of matmul's operands. */
export interface MatmulOptions {
  /** Use a's transpose: a is [K, M] (or [B, K, M]). */
  transA?: boolean;
  /** Use b's transpose: b is [N, K] (or [B, N, K]). */
  transB?: boolean;
}

const TM = 4;
const TN = 4;
const WGX = 8;
const WGY = 8;

const matmulKernel = memoKernel((transA: boolean, transB: boolean) => {
  const aAt = (m: string, k: string) =>
    transA ? `a[aBase + ${k} * params.M + ${m}]` : `a[aBase + ${m} * params.K + ${k}]`;
  const bAt = (k: string, n: string) =>
    transB ? `b[bBase + ${n} * params.K + ${k}]` : `b[bBase + ${k} * params.N + ${n}]`;
  const lines: string[] = [];
  for (let i = 0; i < TM; i++) lines.push(`let a${i} = ${aAt(`m${i}`, 'k')};`);
  for (let j = 0; j < TN; j++) lines.push(`let b${j} = ${bAt('k', `n${j}`)};`);
  for (let i = 0; i < TM; i++) lines.push(`acc${i} += a${i} * vec4f(b0, b1, b2, b3);`);
  return defineKernel({
    name: `matmul${transA ? '.tA' : ''}${transB ? '.tB' : ''}`,
    params: { M: 'u32', N: 'u32', K: 'u32', batchA: 'u32', batchB: 'u32' },
    bindings: { a: { type: 'f32' }, b: { type: 'f32' }, c: { type: 'f32', access: 'read_write' } },
    workgroupSize: [WGX, WGY],
    builtins: { gid: 'global_invocation_id' },
    body: `  let row0 = gid.y * ${TM}u;
  let col0 = gid.x * ${TN}u;
  if (row0 >= params.M || col0 >= params.N) { return; }
  let aBase = gid.z * params.batchA;
  let bBase = gid.z * params.batchB;
  ${Array.from({ length: TM }, (_, i) => `let m${i} = min(row0 + ${i}u, params.M - 1u);`).join(' ')}
  ${Array.from({ length: TN }, (_, j) => `let n${j} = min(col0 + ${j}u, params.N - 1u);`).join(' ')}
  ${Array.from({ length: TM }, (_, i) => `var acc${i} = vec4f(0.0);`).join(' ')}
  for (var k = 0u; k < params.K; k++) {
    ${lines.join('\n    ')}
  }
  let cBase = gid.z * params.M * params.N;
  ${Array.from({ length: TM }, (_, i) =>
    Array.from(
      { length: TN },
      (_, j) =>
        `if (row0 + ${i}u < params.M && col0 + ${j}u < params.N) { ` +
        `c[cBase + (row0 + ${i}u) * params.N + col0 + ${j}u] = acc${i}[${j}]; }`,
    ).join('\n  '),
  ).join('\n  ')}`,
  });
});

const SG = SUBGROUP_SIZE;
const SG_RM = 4;
const SG_TC = 16;

const subgroupMatmulKernel = memoKernel((transA: boolean, transB: boolean) => {
  const aAt = (m: string) => (transA ? `a[aBase + k * params.M + ${m}]` : `a[aBase + ${m} * params.K + k]`);
  const bAt = (n: string) => (transB ? `b[bBase + ${n} * params.K + k]` : `b[bBase + k * params.N + ${n}]`);
  const nb = SG_TC / SG;
  const L: string[] = [];
  for (let i = 0; i < SG_RM; i++) L.push(`let a${i} = ${aAt(`m${i}`)};`);
  for (let j = 0; j < nb; j++) L.push(`let b${j} = ${bAt(`n${j}`)};`);
  for (let q = 0; q < SG_TC; q++) {
    L.push(`{ let bq = subgroupBroadcast(b${Math.floor(q / SG)}, ${q % SG}u);`);
    for (let i = 0; i < SG_RM; i++) L.push(`  acc${i}_${q} = fma(a${i}, bq, acc${i}_${q});`);
    L.push('}');
  }
  const stores: string[] = [];
  for (let i = 0; i < SG_RM; i++) {
    stores.push(`if (mbase + ${i}u < params.M) {`);
    stores.push(`  let o = cBase + (mbase + ${i}u) * params.N + c0;`);
    for (let q = 0; q < SG_TC; q++) stores.push(`  if (c0 + ${q}u < params.N) { c[o + ${q}u] = acc${i}_${q}; }`);
    stores.push('}');
  }
  const accDecls = Array.from(
    { length: SG_RM },
    (_, i) => `var ${Array.from({ length: SG_TC }, (_, q) => `acc${i}_${q} = 0.0`).join('; var ')};`,
  );
  return defineKernel({
    name: `matmul.subgroup${transA ? '.tA' : ''}${transB ? '.tB' : ''}`,
    params: { M: 'u32', N: 'u32', K: 'u32', batchA: 'u32', batchB: 'u32' },
    bindings: { a: { type: 'f32' }, b: { type: 'f32' }, c: { type: 'f32', access: 'read_write' } },
    enables: ['subgroups'],
    workgroupSize: SG,
    builtins: { lane: 'subgroup_invocation_id', wid: 'workgroup_id' },
    body: `  let c0 = wid.x * ${SG_TC}u;
  let mbase = wid.y * ${SG * SG_RM}u + lane * ${SG_RM}u;
  let aBase = wid.z * params.batchA;
  let bBase = wid.z * params.batchB;
  let cBase = wid.z * params.M * params.N;
  ${Array.from({ length: SG_RM }, (_, i) => `let m${i} = min(mbase + ${i}u, params.M - 1u);`).join(' ')}
  ${Array.from({ length: nb }, (_, j) => `let n${j} = min(c0 + lane + ${j * SG}u, params.N - 1u);`).join(' ')}
  ${accDecls.join('\n  ')}
  for (var k = 0u; k < params.K; k++) {
    ${L.join('\n    ')}
  }
  ${stores.join('\n  ')}`,
  });
});

/** Shapes of a matmul, or a KernelArgumentError naming both operands. */
export function matmulShape(
  aShape: readonly number[],
  bShape: readonly number[],
  opts: MatmulOptions = {},
): { B: number; M: number; K: number; N: number; out: number[] } {
  const rank = aShape.length;
  const bad = (why: string) =>
    new KernelArgumentError(
      'matmul',
      `a ${formatShape(aShape)}${opts.transA ? ' (transposed)' : ''} ` +
        `and b ${formatShape(bShape)}${opts.transB ? ' (transposed)' : ''}: ${why}`,
    );
  if ((rank !== 2 && rank !== 3) || bShape.length !== rank)
    throw bad('both must be 2-D [M, K] x [K, N] or both 3-D [B, M, K] x [B, K, N].');
  const B = rank === 3 ? aShape[0] : 1;
  if (rank === 3 && bShape[0] !== B) throw bad(`batch sizes ${aShape[0]} and ${bShape[0]} differ.`);
  const [a0, a1] = aShape.slice(-2);
  const [b0, b1] = bShape.slice(-2);
  const [M, K] = opts.transA ? [a1, a0] : [a0, a1];
  const [K2, N] = opts.transB ? [b1, b0] : [b0, b1];
  if (K !== K2) throw bad(`inner dimensions ${K} and ${K2} differ; check transA / transB.`);
  return { B, M, K, N, out: rank === 3 ? [B, M, N] : [M, N] };
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  checkF32('matmul', 'a', a);
  checkF32('matmul', 'b', b);
  const { B, M, K, N, out } = matmulShape(a.shape, b.shape, opts);
  if (K === 0) return fill(out, 0);
  const c = Tensor.empty(out, 'f32', 'matmul');
  if (c.size === 0) return c;
  matmulInto(a, b, c, opts, { B, M, N, K, batchA: M * K, batchB: K * N });
  return c;
}

/**
 * Launches the chosen kernel for B products into c [B, M, N]; product z reads a at z * batchA and
 * b at z * batchB (0 reuses one operand for every product).
 */
export function matmulInto(
  a: Tensor,
  b: Tensor,
  c: Tensor,
  opts: MatmulOptions,
  { B, ...p }: { B: number; M: number; N: number; K: number; batchA: number; batchB: number },
): void {
  const { M, N } = p;
  if (conv2dVariant() === 'subgroup') {
    subgroupMatmulKernel(!!opts.transA, !!opts.transB).launch({ a, b, c }, p, [
      Math.ceil(N / SG_TC),
      Math.ceil(M / (SG * SG_RM)),
      B,
    ]);
    return;
  }
  matmulKernel(!!opts.transA, !!opts.transB).launch({ a, b, c }, p, [
    Math.ceil(N / (TN * WGX)),
    Math.ceil(M / (TM * WGY)),
    B,
  ]);
}
