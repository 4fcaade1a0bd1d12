// The counter-based hash that decides which elements dropout keeps: a pure function of
// (seed, index), so the GPU kernel and the float64 reference (this file, in JS) draw the same
// mask, and the backward regenerates it instead of keeping it. PCG's output permutation (the
// RXS-M-XS hash of Jarzynski and Olano, "Hash Functions for GPU Rendering", 2020), applied twice.

/** WGSL of `pcg(v)` and `dropHash(seed, i)`; the JS functions below compute the same bits. */
export const HASH_WGSL = `fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn dropHash(seed: u32, i: u32) -> u32 { return pcg(pcg(i ^ pcg(seed)) + seed); }`;

/** PCG's RXS-M-XS output hash of a u32 (as HASH_WGSL's pcg). */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The hash of element i for seed (as HASH_WGSL's dropHash). */
export function dropHash(seed: number, i: number): number {
  return pcg((pcg((i ^ pcg(seed)) >>> 0) + (seed >>> 0)) >>> 0);
}

/**
 * Element i is kept when the top 24 bits of its hash, read as a uniform integer in [0, 2^24),
 * are >= keepThreshold(p). An integer comparison, so float32 and float64 agree exactly.
 */
export function keepThreshold(p: number): number {
  return Math.ceil(p * 2 ** 24);
}
