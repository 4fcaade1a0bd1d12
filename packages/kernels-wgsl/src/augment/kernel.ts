// WGSL for the augmentation kernel: uint8 images (packed 4 per u32) -> f32, with an optional
// per-image random crop from a zero-padded image and horizontal flip, then per-channel
// normalization. One invocation per output element.
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

const cache = new Map<boolean, KernelSource>();

/** The kernel with (`augment`) or without the crop/flip stage; built once per variant. */
export function augmentKernel(augment: boolean): KernelSource {
  let k = cache.get(augment);
  if (k) return k;
  const bindings = augment
    ? `@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> crops: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`;
  const crop = augment
    ? `  let dx = crops[n * 3u];
  let dy = crops[n * 3u + 1u];
  if (crops[n * 3u + 2u] != 0) { sx = s - 1 - sx; }  // flip after the crop, as RandomCrop then RandomHorizontalFlip
  sx = sx + dx - params.pad;
  sy = sy + dy - params.pad;`
    : '';
  const code = /* wgsl */ `${PARAMS}
${bindings}

@compute @workgroup_size(${AUGMENT_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${FLAT_INDEX_WGSL(AUGMENT_WG)};
  if (i >= params.total) { return; }
  let size = params.size;
  let x = i % size;
  let row = i / size;
  let y = row % size;
  let plane = row / size;      // n * 3 + c
  let c = plane % 3u;
  let n = plane / 3u;
  let s = i32(size);
  var sx = i32(x);
  var sy = i32(y);
${crop}
  var v = 0.0;
  if (sx >= 0 && sx < s && sy >= 0 && sy < s) {
    let b = (plane * size + u32(sy)) * size + u32(sx);
    v = f32((images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu);
  }
  var scale = params.scale0;
  var bias = params.bias0;
  if (c == 1u) { scale = params.scale1; bias = params.bias1; }
  if (c == 2u) { scale = params.scale2; bias = params.bias2; }
  out[i] = v * scale + bias;
}
`;
  k = { name: augment ? 'augment.batch' : 'augment.normalize', storage: augment ? ['read', 'read', 'read_write'] : ['read', 'read_write'], code };
  cache.set(augment, k);
  return k;
}
