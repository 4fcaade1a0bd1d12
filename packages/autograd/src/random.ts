// The one global random generator (PyTorch's default generator): manualSeed(n) reseeds it; every
// unseeded random op (randn, rand, randint, dropout, init) draws from it, so calls differ from
// each other and repeat after manualSeed.

import { Rng } from '@wgtorch/tensor';

let generator = new Rng(0);

/** Reseeds the global generator (torch.manual_seed). */
export function manualSeed(seed: number): void {
  generator = new Rng(seed);
}

/** The global generator (advanced by every unseeded random op). */
export function getDefaultRng(): Rng {
  return generator;
}

/** A fresh 32-bit seed for a GPU random kernel, advancing the global generator. */
export function nextSeed(): number {
  return generator.nextU32();
}
