// WGSL generators for elementwise kernels.
//
// `mapKernel`: n same-shape inputs -> one output, `out = expr(a, b, ...)` with up to two scalar
// uniforms s0, s1. With `vec` the buffers are array<vec4f> (used when the size is a multiple
// of 4). Each invocation handles ITEMS elements spaced by the launch's invocation count, so
// the lanes of a SIMD group touch adjacent addresses (what lavapipe vectorizes best).
//
// `stridedKernel`: the general (broadcasting / permuting) form: the output index is decoded
// into up to 6 coordinates and each input has its own stride per output dimension.

import { sizeOf } from '@wgtorch/tensor';
import { defineKernel, memoKernel, type BindingDecl, type ParamType } from '../common/kernel.js';
import { f32Lit, flatId } from './launch.js';
import { mathHelpers } from './math-wgsl.js';

export const MAP_WG = 256;
export const MAP_ITEMS = 4;
export const INPUTS = ['in_a', 'in_b', 'in_c'] as const;

/** Read bindings in_a, in_b, ... of `types`, then `out: array<outType>`. */
function ioBindings(types: string[], outType: string): Record<string, BindingDecl> {
  const b: Record<string, BindingDecl> = {};
  types.forEach((type, i) => (b[INPUTS[i]] = { type, access: 'read' }));
  b.out = { type: outType, access: 'read_write' };
  return b;
}

/**
 * `expr` uses a, b, c for the inputs, T for the element type (f32 or vec4f), params.s0/s1, and
 * the ew_* functions of math-wgsl.ts.
 */
export const mapKernel = memoKernel((name: string, expr: string, nIn: number, vec: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  const loads = INPUTS.slice(0, nIn)
    .map((v) => `let ${v.slice(3)} = ${v}[i];`)
    .join(' ');
  return defineKernel({
    name: `elementwise.${name}`,
    params: { n: 'u32', stride: 'u32', s0: 'f32', s1: 'f32' },
    bindings: ioBindings(Array(nIn).fill(T), T),
    helpers: mathHelpers(T, expr),
    workgroupSize: MAP_WG,
    body: `  var i = ${flatId(MAP_WG)};
  for (var k = 0u; k < ${MAP_ITEMS}u; k++) {
    if (i >= params.n) { return; }
    ${loads}
    out[i] = ${expr};
    i += params.stride;
  }`,
  });
});

export const MAX_RANK = 6;

/** General strided form: params d0..d5 (output dims, innermost last), per-input strides a0.., b0... */
export const stridedKernel = memoKernel((name: string, expr: string, nIn: number, rank: number) => {
  const vars = INPUTS.slice(0, nIn).map((v) => v.slice(3));
  const fields: Record<string, ParamType> = { n: 'u32', s0: 'f32', s1: 'f32' };
  for (let d = 0; d < rank; d++) fields[`d${d}`] = 'u32';
  for (const v of vars) for (let d = 0; d < rank; d++) fields[`${v}${d}`] = 'u32';
  let decode = 'var r = i;\n';
  for (const v of vars) decode += `  var o_${v} = 0u;\n`;
  for (let d = rank - 1; d >= 0; d--) {
    decode += d > 0 ? `  { let q = r % params.d${d}; r = r / params.d${d};` : `  { let q = r;`;
    for (const v of vars) decode += ` o_${v} += q * params.${v}${d};`;
    decode += ' }\n';
  }
  const loads = vars.map((v) => `let ${v} = in_${v}[o_${v}];`).join(' ');
  return defineKernel({
    name: `elementwise.${name}`,
    params: fields,
    bindings: ioBindings(Array(nIn).fill('f32'), 'f32'),
    helpers: mathHelpers('f32', expr),
    workgroupSize: MAP_WG,
    body: `  let i = ${flatId(MAP_WG)};
  if (i >= params.n) { return; }
  ${decode}
  ${loads}
  out[i] = ${expr};`,
  });
});

/**
 * Broadcasting with vec4s: output dims and input strides are constants of the code (the index
 * decode becomes multiplies and shifts instead of divisions by uniforms), and each invocation
 * writes 4 neighbours along the innermost dimension (a multiple of 4 long). An input whose
 * innermost stride is 1 is read as vec4s (every stride of it a multiple of 4), one broadcast
 * along it (stride 0) as one f32 splat to the vec4.
 */
export const broadcastVecKernel = memoKernel((name: string, expr: string, dims: number[], strides: number[][]) => {
  const vars = INPUTS.slice(0, strides.length).map((v) => v.slice(3));
  const vecIn = strides.map((st) => st[st.length - 1] === 1);
  const units = sizeOf(dims) / 4;
  let decode = `var r = u * 4u;\n`;
  for (const v of vars) decode += `  var o_${v} = 0u;\n`;
  for (let d = dims.length - 1; d >= 0; d--) {
    decode += d > 0 ? `  { let q = r % ${dims[d]}u; r = r / ${dims[d]}u;` : `  { let q = r;`;
    vars.forEach((v, k) => {
      if (strides[k][d] !== 0) decode += ` o_${v} += q * ${strides[k][d]}u;`;
    });
    decode += ' }\n';
  }
  const loads = vars
    .map((v, k) => (vecIn[k] ? `let ${v} = in_${v}[o_${v} / 4u];` : `let ${v} = vec4f(in_${v}[o_${v}]);`))
    .join(' ');
  return defineKernel({
    name: `elementwise.${name}`,
    params: { n: 'u32' },
    bindings: ioBindings(
      vecIn.map((v) => (v ? 'vec4f' : 'f32')),
      'vec4f',
    ),
    helpers: mathHelpers('vec4f', expr),
    workgroupSize: MAP_WG,
    body: `  let i = ${flatId(MAP_WG)};
  let u = min(i, ${units - 1}u);
  ${decode}
  ${loads}
  if (i < ${units}u) { out[u] = ${expr}; }`,
  });
});

export { f32Lit };
