// Copies behind the autograd's views and joins (tensors are contiguous buffers, so a view is a
// copy): one strided gather (an offset and a stride per output dim) serves narrow, slicing with
// a step, select, expand and int32 permutes; sliceBackward embeds a slice's gradient in zeros;
// cat places each input at its offset along the joined dim. The copies take f32 or i32 (index
// tensors are sliced and joined too), each through a kernel of its own element type.

import { Tensor, formatShape, sizeOf, stridesOf, type DType } from '@wgtorch/tensor';
import { defineKernel, memoKernel, type ParamType } from '../common/kernel.js';
import { KernelArgumentError } from '../common/errors.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import { fill, mergeDims } from '../elementwise/elementwise.js';

const WG = 256;
export const MAX_RANK = 6;

function checkRank(kernel: string, shape: readonly number[]): void {
  if (shape.length > MAX_RANK) {
    throw new KernelArgumentError(
      kernel,
      `${formatShape(shape)} has ${shape.length} dims after merging; ` +
        `at most ${MAX_RANK} are supported (reshape first).`,
    );
  }
}

/** The copies move f32 or i32 elements. */
function checkCopyable(kernel: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32' && t.dtype !== 'i32')
    throw new KernelArgumentError(kernel, `${name} must be f32 or i32, got ${t.dtype} ${formatShape(t.shape)}.`);
}

/** out[c] = x[offset + sum c_d * strides_d] over the output dims d (rank-specialized). */
const gatherKernel = memoKernel((rank: number, type: DType) => {
  const params: Record<string, ParamType> = { n: 'u32', offset: 'u32' };
  for (let d = 0; d < rank; d++) Object.assign(params, { [`d${d}`]: 'u32', [`s${d}`]: 'u32' });
  let decode = '';
  for (let d = rank - 1; d > 0; d--) decode += `  o += (r % params.d${d}) * params.s${d}; r = r / params.d${d};\n`;
  return defineKernel({
    name: `indexing.stridedGather${rank}${type}`,
    params,
    bindings: { x: { type }, out: { type, access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  var r = min(i, params.n - 1u);
  var o = params.offset;
${decode}  o += r * params.s0;
  let v = x[o];
  if (i < params.n) { out[i] = v; }`,
  });
});

/**
 * A new contiguous tensor of `shape` with out[c] = x[offset + sum_d c_d * strides_d] (strides in
 * elements, >= 0; 0 repeats, as expand does). Every address must lie inside x.
 */
export function stridedGather(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  checkCopyable('stridedGather', 'x', x);
  const what =
    `x ${formatShape(x.shape)}, shape ${formatShape(shape)}, ` + `strides [${strides.join(', ')}], offset ${offset}`;
  if (strides.length !== shape.length || [...strides, offset].some((s) => !Number.isInteger(s) || s < 0))
    throw new KernelArgumentError('stridedGather', `${what}: give one integer stride >= 0 per output dim.`);
  const last = offset + shape.reduce((a, d, i) => a + (d - 1) * strides[i], 0);
  if (sizeOf(shape) > 0 && last >= x.size)
    throw new KernelArgumentError('stridedGather', `${what}: reads element ${last}, past the end of x.`);
  const out = Tensor.empty(shape, x.dtype, 'stridedGather');
  if (out.size === 0) return out;
  const m = mergeDims(shape, [[...strides]]);
  checkRank('stridedGather', m.dims);
  const p: Record<string, number> = { n: out.size, offset };
  m.dims.forEach((d, i) => Object.assign(p, { [`d${i}`]: d, [`s${i}`]: m.strides[0][i] }));
  gatherKernel(m.dims.length, x.dtype).launch({ x, out }, p, flatGrid(out.size, WG).groups);
  return out;
}

/** The gradient of a slice: zeros of `shape` with dy at start_d + k * step_d along every dim d. */
const embedKernel = memoKernel((rank: number) => {
  const params: Record<string, ParamType> = { n: 'u32', last: 'u32' };
  for (let d = 0; d < rank; d++) {
    Object.assign(params, { [`d${d}`]: 'u32', [`c${d}`]: 'u32', [`b${d}`]: 'u32', [`p${d}`]: 'u32', [`y${d}`]: 'u32' });
  }
  let decode = '';
  for (let d = rank - 1; d >= 0; d--) {
    const q = d > 0 ? `r % params.d${d}` : 'r';
    decode += `  { let q = ${q}; r = r / params.d${d};
    let k = (q - min(q, params.b${d})) / params.p${d};
    inside = inside && q >= params.b${d} && (q - params.b${d}) % params.p${d} == 0u && k < params.c${d};
    o += k * params.y${d}; }\n`;
  }
  return defineKernel({
    name: `indexing.sliceBackward${rank}`,
    params,
    bindings: { dy: { type: 'f32' }, out: { type: 'f32', access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  var r = min(i, params.n - 1u);
  var o = 0u;
  var inside = true;
${decode}  let v = select(0.0, dy[min(o, params.last)], inside);
  if (i < params.n) { out[i] = v; }`,
  });
});

/**
 * Zeros of `shape` holding dy at the positions a slice took: dy.shape[d] elements along dim d
 * from starts[d] in steps of steps[d] (the backward of stridedGather for narrow, slicing, select).
 */
export function sliceBackward(
  dy: Tensor,
  shape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
): Tensor {
  checkF32('sliceBackward', 'dy', dy);
  const bad = checkSlice(dy.shape, shape, starts, steps);
  if (bad) throw new KernelArgumentError('sliceBackward', bad);
  const out = Tensor.empty(shape, 'f32', 'sliceBackward');
  if (out.size === 0) return out;
  if (dy.size === 0) {
    out.dispose();
    return fill(shape, 0);
  }
  // Dims the slice takes whole (start 0, step 1, all of it) merge with a whole neighbour.
  const dims: number[][] = [];
  const ys = stridesOf(dy.shape);
  shape.forEach((d, i) => {
    const whole = starts[i] === 0 && steps[i] === 1 && dy.shape[i] === d;
    const prev = dims[dims.length - 1];
    if (whole && prev && prev[5] === 1) {
      prev[0] *= d;
      prev[1] *= d;
      prev[4] = ys[i];
    } else dims.push([d, dy.shape[i], starts[i], steps[i], ys[i], whole ? 1 : 0]);
  });
  checkRank(
    'sliceBackward',
    dims.map((d) => d[0]),
  );
  const p: Record<string, number> = { n: out.size, last: dy.size - 1 };
  dims.forEach(([d, c, b, s, y], i) =>
    Object.assign(p, { [`d${i}`]: d, [`c${i}`]: c, [`b${i}`]: b, [`p${i}`]: s, [`y${i}`]: y }),
  );
  embedKernel(dims.length).launch({ dy, out }, p, flatGrid(out.size, WG).groups);
  return out;
}

/** Why dy of `dyShape` cannot be a slice of `shape` (starts, steps), or '' when it can. */
export function checkSlice(
  dyShape: readonly number[],
  shape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
): string {
  const what =
    `dy ${formatShape(dyShape)} into ${formatShape(shape)} ` + `from [${starts.join(', ')}] step [${steps.join(', ')}]`;
  const r = shape.length;
  if (dyShape.length !== r || starts.length !== r || steps.length !== r)
    return `${what}: give one start and step per dim.`;
  for (let d = 0; d < r; d++) {
    const ok = Number.isInteger(starts[d]) && starts[d] >= 0 && Number.isInteger(steps[d]) && steps[d] >= 1;
    if (!ok || (dyShape[d] > 0 && starts[d] + (dyShape[d] - 1) * steps[d] >= shape[d]))
      return `${what}: dim ${d} runs past the end (starts >= 0, steps >= 1, inside the shape).`;
  }
  return '';
}

const placeKernel = memoKernel((type: DType) =>
  defineKernel({
    name: `indexing.catPlace${type}`,
    params: { n: 'u32', row: 'u32', outRow: 'u32', offset: 'u32' },
    bindings: { x: { type }, out: { type, access: 'read_write' } },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let j = min(i, params.n - 1u);
  let v = x[j];
  if (i < params.n) { out[(j / params.row) * params.outRow + params.offset + j % params.row] = v; }`,
  }),
);

/** Why `shapes` cannot be joined along `dim`, or '' when they can. */
export function checkCat(shapes: readonly (readonly number[])[], dim: number): string {
  if (shapes.length === 0) return 'needs at least one tensor.';
  const r = shapes[0].length;
  const list = shapes.map(formatShape).join(', ');
  if (!Number.isInteger(dim) || dim < 0 || dim >= r) return `dim ${dim} is out of range for ${list}.`;
  for (const s of shapes) {
    if (s.length !== r || s.some((d, i) => i !== dim && d !== shapes[0][i]))
      return `shapes ${list} must match in every dim but ${dim}; reshape or narrow them first.`;
  }
  return '';
}

/** The tensors joined along `dim` (non-negative; shapes equal in every other dim). */
export function cat(xs: readonly Tensor[], dim: number): Tensor {
  xs.forEach((x, i) => checkCopyable('cat', `xs[${i}]`, x));
  if (xs.some((x) => x.dtype !== xs[0].dtype))
    throw new KernelArgumentError('cat', `dtypes ${xs.map((x) => x.dtype).join(', ')} differ; convert them to one.`);
  const bad = checkCat(
    xs.map((x) => x.shape),
    dim,
  );
  if (bad) throw new KernelArgumentError('cat', bad);
  const shape = [...xs[0].shape];
  shape[dim] = xs.reduce((a, x) => a + x.shape[dim], 0);
  const out = Tensor.empty(shape, xs[0].dtype, 'cat');
  const inner = sizeOf(shape.slice(dim + 1));
  let at = 0;
  for (const x of xs) {
    if (x.size > 0) {
      const p = { n: x.size, row: x.shape[dim] * inner, outRow: shape[dim] * inner, offset: at * inner };
      placeKernel(x.dtype).launch({ x, out }, p, flatGrid(x.size, WG).groups);
    }
    at += x.shape[dim];
  }
  return out;
}
