// `pnpm resnet20 golden FILE` and the golden tests: golden-check.ts's checks on fixture files,
// read through loadFixture (which expands the repository's compact files into the full format).

import { dirname, join } from 'node:path';
import { loadFixture } from '@wgtorch/kernels-wgsl/testing';
import { DEFAULTS, type TrainConfig } from './train/config.js';
import { runGoldenFile, runRecipeGoldenFile, type GoldenResult } from './golden-check.js';

export {
  GOLDEN_TOLERANCE,
  RECIPE_TOLERANCE,
  formatGolden,
  runGoldenBytes,
  runGoldenFile,
  runRecipeGoldenFile,
  type GoldenResult,
  type GoldenRow,
} from './golden-check.js';

/** The model against the golden file at `path` (see runGoldenFile). */
export function runGolden(path: string): Promise<GoldenResult> {
  return runGoldenFile(loadFixture(path), path);
}

/**
 * Two steps at the trainer's configuration against the recipe golden file at `path`, from the init
 * of resnet20-golden-s0.safetensors beside it (see runRecipeGoldenFile).
 */
export function runRecipeGolden(path: string, overrides: Partial<TrainConfig> = {}): Promise<GoldenResult> {
  const init = loadFixture(join(dirname(path), 'resnet20-golden-s0.safetensors'));
  return runRecipeGoldenFile(loadFixture(path), init, path, { ...DEFAULTS, ...overrides });
}
