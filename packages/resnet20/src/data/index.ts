// The CIFAR-10 pipeline for the trainer: find and verify the data, load it into memory, and
// hand out seeded batches with augmentation parameters for the GPU augment kernel.

import { TEST_FILES, TRAIN_FILES, readCifarFiles, readClassNames, type CifarSplit } from './cifar10.js';
import { locateCifar10, type LocateOptions } from './sources.js';

export {
  CIFAR10_FILES,
  CIFAR10_MEAN,
  CIFAR10_STD,
  CLASS_NAMES,
  CifarDataError,
  FILE_BYTES,
  IMAGE_BYTES,
  IMAGE_SIZE,
  RECORD_BYTES,
  RECORDS_PER_FILE,
  TEST_FILES,
  TRAIN_FILES,
  defaultCacheRoot,
  looksLikeCifar10,
  readCifarFiles,
  readClassNames,
  sha256File,
  verifyCifar10,
  type CifarSplit,
  type VerifyOptions,
} from './cifar10.js';
export {
  TrainLoader,
  augmentParams,
  augmentRng,
  epochOrder,
  gatherImages,
  identityParams,
  mixSeed,
  orderRng,
  stepsPerEpoch,
  subsetSplit,
  testBatches,
  type AugmentParamOptions,
  type Batch,
  type TrainLoaderOptions,
} from './loader.js';
export {
  OFFICIAL_MD5,
  OFFICIAL_URL,
  TFJS_PACKAGE,
  convertTfjsCifar10,
  downloadOfficial,
  locateCifar10,
  readTfjsTarball,
  spriteToRecords,
  tfjsFilesToBins,
  type LocateOptions,
} from './sources.js';
export { decodePng, type DecodedPng } from './png.js';
export { readTar, readTarGz, type TarEntry } from './tar.js';

export interface Cifar10 {
  /** The verified folder the data came from. */
  dir: string;
  /** 50000 images, file order (data_batch_1..5). */
  train: CifarSplit;
  /** 10000 images, file order. */
  test: CifarSplit;
  classes: string[];
}

/**
 * Locates (fetching into the cache when needed), verifies and loads CIFAR-10 (~185 MB in memory).
 * `dataDir` is the trainer's --data-dir; CIFAR10_DIR and the cache come next.
 */
export async function loadCifar10(opts: LocateOptions = {}): Promise<Cifar10> {
  const dir = await locateCifar10(opts);
  return {
    dir,
    train: readCifarFiles(dir, TRAIN_FILES),
    test: readCifarFiles(dir, TEST_FILES),
    classes: readClassNames(dir),
  };
}
export { uploadBatch, batchInput, type GpuBatch, type UploadOptions } from './gpu.js';
