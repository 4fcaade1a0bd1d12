// WGSL generators for elementwise kernels.
//
// `mapKernel`: n same-shape inputs -> one output, `out = expr(a, b, ...)` with up to two scalar
// uniforms s0, s1. With `vec` the buffers are array<vec4f> (used when the size is a multiple
// of 4). Each invocation handles ITEMS elements spaced by the launch's invocation count, so
// the lanes of a SIMD group touch adjacent addresses (what lavapipe vectorizes best).
//
// `stridedKernel`: the general (broadcasting / permuting) form: the output index is decoded
// into up to 6 coordinates and each input has its own stride per output dimension.

import { f32Lit, kernel, memoKernel, MAIN_ARGS, flatId, paramsStruct } from './launch.js';

export const MAP_WG = 256;
export const MAP_ITEMS = 4;
const INPUTS = ['a', 'b', 'c'];

/** `expr` uses a, b, c for the inputs, T for the element type (f32 or vec4f), params.s0/s1. */
export const mapKernel = memoKernel((name: string, expr: string, nIn: number, vec: boolean) => {
  const T = vec ? 'vec4f' : 'f32';
  const binds = INPUTS.slice(0, nIn)
    .map((v, i) => `@group(0) @binding(${i + 1}) var<storage, read> in_${v}: array<${T}>;`)
    .join('\n');
  const loads = INPUTS.slice(0, nIn)
    .map((v) => `let ${v} = in_${v}[i];`)
    .join(' ');
  const code = `alias T = ${T};
${paramsStruct(['n: u32', 'stride: u32', 's0: f32', 's1: f32'])}
${binds}
@group(0) @binding(${nIn + 1}) var<storage, read_write> out: array<T>;
@compute @workgroup_size(${MAP_WG}) fn main(${MAIN_ARGS}) {
  var i = ${flatId(MAP_WG)};
  for (var k = 0u; k < ${MAP_ITEMS}u; k++) {
    if (i >= params.n) { return; }
    ${loads}
    out[i] = ${expr};
    i += params.stride;
  }
}`;
  return kernel(`elementwise.${name}`, [...INPUTS.slice(0, nIn).map(() => 'read' as const), 'read_write'], code);
});

export const MAX_RANK = 6;

/** General strided form: params d0..d5 (output dims, innermost last), per-input strides. */
export const stridedKernel = memoKernel((name: string, expr: string, nIn: number, rank: number) => {
  const fields = ['n: u32', 's0: f32', 's1: f32'];
  for (let d = 0; d < rank; d++) fields.push(`d${d}: u32`);
  for (const v of INPUTS.slice(0, nIn)) for (let d = 0; d < rank; d++) fields.push(`${v}${d}: u32`);
  const binds = INPUTS.slice(0, nIn)
    .map((v, i) => `@group(0) @binding(${i + 1}) var<storage, read> in_${v}: array<f32>;`)
    .join('\n');
  let decode = 'var r = i;\n';
  for (const v of INPUTS.slice(0, nIn)) decode += `  var o_${v} = 0u;\n`;
  for (let d = rank - 1; d >= 0; d--) {
    decode += d > 0 ? `  { let q = r % params.d${d}; r = r / params.d${d};` : `  { let q = r;`;
    for (const v of INPUTS.slice(0, nIn)) decode += ` o_${v} += q * params.${v}${d};`;
    decode += ' }\n';
  }
  const loads = INPUTS.slice(0, nIn)
    .map((v) => `let ${v} = in_${v}[o_${v}];`)
    .join(' ');
  const code = `alias T = f32;
${paramsStruct(fields)}
${binds}
@group(0) @binding(${nIn + 1}) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${MAP_WG}) fn main(${MAIN_ARGS}) {
  let i = ${flatId(MAP_WG)};
  if (i >= params.n) { return; }
  ${decode}
  ${loads}
  out[i] = ${expr};
}`;
  return kernel(`elementwise.${name}`, [...INPUTS.slice(0, nIn).map(() => 'read' as const), 'read_write'], code);
});

/**
 * Broadcasting with vec4s: output dims and input strides are constants of the code (the index
 * decode becomes multiplies and shifts instead of divisions by uniforms), and each invocation
 * writes 4 neighbours along the innermost dimension (a multiple of 4 long). An input whose
 * innermost stride is 1 is read as vec4s (every stride of it a multiple of 4), one broadcast
 * along it (stride 0) as one f32 splat to the vec4. On lavapipe: [128,16,32,32] * [1,16,1,1]
 * 10.6 -> 2.1 ms, about the same-shape product (`pnpm bench`, elementwise.broadcast rows).
 */
export const broadcastVecKernel = memoKernel((name: string, expr: string, dims: number[], strides: number[][]) => {
  const inputs = INPUTS.slice(0, strides.length);
  const vecIn = strides.map((st) => st[st.length - 1] === 1);
  const binds = inputs
    .map((v, i) => `@group(0) @binding(${i + 1}) var<storage, read> in_${v}: array<${vecIn[i] ? 'vec4f' : 'f32'}>;`)
    .join('\n');
  const units = dims.reduce((a, d) => a * d, 1) / 4;
  let decode = `var r = u * 4u;\n`;
  for (const v of inputs) decode += `  var o_${v} = 0u;\n`;
  for (let d = dims.length - 1; d >= 0; d--) {
    decode += d > 0 ? `  { let q = r % ${dims[d]}u; r = r / ${dims[d]}u;` : `  { let q = r;`;
    inputs.forEach((v, k) => {
      if (strides[k][d] !== 0) decode += ` o_${v} += q * ${strides[k][d]}u;`;
    });
    decode += ' }\n';
  }
  const loads = inputs.map((v, k) => (vecIn[k] ? `let ${v} = in_${v}[o_${v} / 4u];` : `let ${v} = vec4f(in_${v}[o_${v}]);`)).join(' ');
  const code = `alias T = vec4f;
${paramsStruct(['n: u32'])}
${binds}
@group(0) @binding(${inputs.length + 1}) var<storage, read_write> out: array<vec4f>;
@compute @workgroup_size(${MAP_WG}) fn main(${MAIN_ARGS}) {
  let i = ${flatId(MAP_WG)};
  let u = min(i, ${units - 1}u);
  ${decode}
  ${loads}
  if (i < ${units}u) { out[u] = ${expr}; }
}`;
  return kernel(`elementwise.${name}`, [...inputs.map(() => 'read' as const), 'read_write'], code);
});

export { f32Lit };
