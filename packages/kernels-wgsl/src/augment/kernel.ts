// WGSL for the augmentation kernel: uint8 images (packed 4 per u32) -> f32, with an optional
// per-image random crop from a zero-padded image and horizontal flip, then per-channel
// normalization. One invocation per output element, or per 4 neighbouring ones.
//
// Padding is applied to the raw pixels, so a padded pixel is 0 before normalization and
// -mean/std after it, as torchvision's RandomCrop(padding=4) followed by Normalize gives.

import type { KernelSource } from '@wgtorch/tensor';
import { FLAT_INDEX_WGSL } from '../common/grid.js';

export const AUGMENT_WG = 256;

const PARAMS = /* wgsl */ `
struct Params {
  total: u32,      // n * 3 * size * size
  size: u32,       // image side
  pad: i32,        // zero padding on each side before the crop
  scale0: f32, scale1: f32, scale2: f32,  // 1 / (255 * std[c])
  bias0: f32, bias1: f32, bias2: f32,     // -mean[c] / std[c]
}
@group(0) @binding(0) var<uniform> params: Params;
`;

const cache = new Map<string, KernelSource>();

/**
 * The kernel with (`augment`) or without the crop/flip stage; built once per variant. With
 * `vec4` (image side a multiple of 4) each invocation writes 4 neighbouring pixels of a row,
 * so the index arithmetic is shared and the store is one vec4.
 */
export function augmentKernel(augment: boolean, vec4 = false): KernelSource {
  const key = `${augment}|${vec4}`;
  let k = cache.get(key);
  if (k) return k;
  const W = vec4 ? 4 : 1;
  const outType = vec4 ? 'vec4f' : 'f32';
  const bindings = augment
    ? `@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> crops: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${outType}>;`
    : `@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<${outType}>;`;
  // Source column of output column x: flip after the crop, as RandomCrop then RandomHorizontalFlip.
  const crop = augment
    ? `  let dx = crops[n * 3u];
  let dy = crops[n * 3u + 1u];
  let flip = crops[n * 3u + 2u] != 0;
  let sy = i32(y) + dy - params.pad;`
    : `  let sy = i32(y);`;
  const srcX = augment ? `select(i32(x + j), s - 1 - i32(x + j), flip) + dx - params.pad` : `i32(x + j)`;
  const code = /* wgsl */ `${PARAMS}
${bindings}

fn pixel(plane: u32, size: u32, sy: i32, sx: i32) -> f32 {
  let s = i32(size);
  if (sx < 0 || sx >= s || sy < 0 || sy >= s) { return 0.0; }
  let b = (plane * size + u32(sy)) * size + u32(sx);
  return f32((images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu);
}

@compute @workgroup_size(${AUGMENT_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX_WGSL(AUGMENT_WG)};
  if (i * ${W}u >= params.total) { return; }
  let size = params.size;
  let s = i32(size);
  let x = (i * ${W}u) % size;  // first of the ${W} output columns
  let row = (i * ${W}u) / size;
  let y = row % size;
  let plane = row / size;      // n * 3 + c
  let c = plane % 3u;
  let n = plane / 3u;
${crop}
  var scale = params.scale0;
  var bias = params.bias0;
  if (c == 1u) { scale = params.scale1; bias = params.bias1; }
  if (c == 2u) { scale = params.scale2; bias = params.bias2; }
${
  vec4
    ? `  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) { v[j] = pixel(plane, size, sy, ${srcX}); }
  out[i] = v * scale + bias;`
    : `  let j = 0u;
  out[i] = pixel(plane, size, sy, ${srcX}) * scale + bias;`
}
}
`;
  k = {
    name: augment ? 'augment.batch' : 'augment.normalize',
    storage: augment ? ['read', 'read', 'read_write'] : ['read', 'read_write'],
    code,
  };
  cache.set(key, k);
  return k;
}
