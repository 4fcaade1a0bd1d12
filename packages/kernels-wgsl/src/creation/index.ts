// Public API: conversion between dtypes and its float64 reference.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './cast.js';
export type { CastDtype } from './cast.js';

/** x converted to f32 or i32 in a new tensor (f32 -> i32 rounds toward zero, saturating out-of-range values). */
export const cast = releaseOnThrow(launchers.cast);
export { castRef } from './cast.js';
