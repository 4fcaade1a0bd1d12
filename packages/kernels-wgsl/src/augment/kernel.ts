// WGSL for the augmentation kernel: uint8 images (packed 4 per u32) -> f32, with an optional
// per-image random crop from a zero-padded image and horizontal flip, then per-channel
// normalization. One invocation per output element, or per 4 neighbouring ones.
//
// Padding is applied to the raw pixels, so a padded pixel is 0 before normalization and
// -mean/std after it, as torchvision's RandomCrop(padding=4) followed by Normalize gives.

import { FLAT_INDEX_WGSL } from '../common/grid.js';
import { defineKernel, memoKernel, type BindingDecl } from '../common/kernel.js';

export const AUGMENT_WG = 256;

// scale_c = 1 / (255 * std[c]), bias_c = -mean[c] / std[c]; pad is the zero padding on each side before the crop.
const PARAMS = {
  total: 'u32',
  size: 'u32',
  pad: 'i32',
  scale0: 'f32',
  scale1: 'f32',
  scale2: 'f32',
  bias0: 'f32',
  bias1: 'f32',
  bias2: 'f32',
} as const;

/**
 * The kernel with (`augment`) or without the crop/flip stage; built once per variant. With
 * `vec4` (image side a multiple of 4) each invocation writes 4 neighbouring pixels of a row,
 * so the index arithmetic is shared and the store is one vec4.
 */
export const augmentKernel = memoKernel((augment: boolean, vec4 = false) => {
  const W = vec4 ? 4 : 1;
  const bindings: Record<string, BindingDecl> = augment
    ? { images: { type: 'u32' }, crops: { type: 'i32' } }
    : { images: { type: 'u32' } };
  bindings.out = { type: vec4 ? 'vec4f' : 'f32', access: 'read_write' };
  // Source column of output column x: flip after the crop, as RandomCrop then RandomHorizontalFlip.
  const crop = augment
    ? `  let dx = crops[n * 3u];
  let dy = crops[n * 3u + 1u];
  let flip = crops[n * 3u + 2u] != 0;
  let sy = i32(y) + dy - params.pad;`
    : `  let sy = i32(y);`;
  const srcX = augment ? `select(i32(x + j), s - 1 - i32(x + j), flip) + dx - params.pad` : `i32(x + j)`;
  return defineKernel({
    name: augment ? 'augment.batch' : 'augment.normalize',
    params: PARAMS,
    bindings,
    helpers: `fn pixel(plane: u32, size: u32, sy: i32, sx: i32) -> f32 {
  let s = i32(size);
  if (sx < 0 || sx >= s || sy < 0 || sy >= s) { return 0.0; }
  let b = (plane * size + u32(sy)) * size + u32(sx);
  return f32((images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu);
}`,
    workgroupSize: AUGMENT_WG,
    body: `  let i = ${FLAT_INDEX_WGSL(AUGMENT_WG)};
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
}`,
  });
});
