// Matrix multiply with either operand transposed, plain or batched:
// [M, K] x [K, N] -> [M, N] and [B, M, K] x [B, K, N] -> [B, M, N].
//
// Register tiling: each invocation accumulates a TM x TN block of C in registers, reading A and
// B straight from storage (on lavapipe workgroup memory is no cheaper than a storage load; on
// GPUs the blocks are small enough to stay in cache). Edges clamp their loads and skip stores.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { params } from '../common/params.js';
import { fill } from '../elementwise/elementwise.js';
import { checkF32, kernel, launch, memoKernel, paramsStruct } from '../elementwise/launch.js';

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
  const aAt = (m: string, k: string) => (transA ? `a[aBase + ${k} * params.M + ${m}]` : `a[aBase + ${m} * params.K + ${k}]`);
  const bAt = (k: string, n: string) => (transB ? `b[bBase + ${n} * params.K + ${k}]` : `b[bBase + ${k} * params.N + ${n}]`);
  const lines: string[] = [];
  for (let i = 0; i < TM; i++) lines.push(`let a${i} = ${aAt(`m${i}`, 'k')};`);
  for (let j = 0; j < TN; j++) lines.push(`let b${j} = ${bAt('k', `n${j}`)};`);
  for (let i = 0; i < TM; i++) lines.push(`acc${i} += a${i} * vec4f(b0, b1, b2, b3);`);
  const code = `${paramsStruct(['M: u32', 'N: u32', 'K: u32', 'batchA: u32', 'batchB: u32'])}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(${WGX}, ${WGY}) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * ${TM}u;
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
      (_, j) => `if (row0 + ${i}u < params.M && col0 + ${j}u < params.N) { c[cBase + (row0 + ${i}u) * params.N + col0 + ${j}u] = acc${i}[${j}]; }`,
    ).join('\n  '),
  ).join('\n  ')}
}`;
  return kernel(`matmul${transA ? '.tA' : ''}${transB ? '.tB' : ''}`, ['read', 'read', 'read_write'], code);
});

/** Shapes of a matmul, or a KernelArgumentError naming both operands. */
export function matmulShape(aShape: readonly number[], bShape: readonly number[], opts: MatmulOptions = {}): { B: number; M: number; K: number; N: number; out: number[] } {
  const rank = aShape.length;
  const bad = (why: string) =>
    new KernelArgumentError(
      'matmul',
      `a ${formatShape(aShape)}${opts.transA ? ' (transposed)' : ''} and b ${formatShape(bShape)}${opts.transB ? ' (transposed)' : ''}: ${why}`,
    );
  if ((rank !== 2 && rank !== 3) || bShape.length !== rank) throw bad('both must be 2-D [M, K] x [K, N] or both 3-D [B, M, K] x [B, K, N].');
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
  const p = params().u32(M).u32(N).u32(K).u32(M * K).u32(K * N).data();
  const groups: [number, number, number] = [Math.ceil(N / (TN * WGX)), Math.ceil(M / (TM * WGY)), B];
  launch(matmulKernel(!!opts.transA, !!opts.transB), [a, b, c], groups, p);
  return c;
}
