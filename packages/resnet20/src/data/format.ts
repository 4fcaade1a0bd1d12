// CIFAR-10's binary format: sizes, file names, class names and parsing record bytes into a split.
// No Node built-ins: the browser demo parses the same files it fetches.

export const IMAGE_SIZE = 32;
export const CHANNELS = 3;
/** Bytes of one image, planar R, G, B planes of 32x32. */
export const IMAGE_BYTES = CHANNELS * IMAGE_SIZE * IMAGE_SIZE;
/** One record: the label byte, then the image. */
export const RECORD_BYTES = 1 + IMAGE_BYTES;
export const RECORDS_PER_FILE = 10000;
export const FILE_BYTES = RECORD_BYTES * RECORDS_PER_FILE; // 30730000

export const CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;
export const NUM_CLASSES: number = CLASS_NAMES.length;

/** Per-channel mean and std of the training set, pixels / 255 (as torchvision recipes use). */
export const CIFAR10_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD: readonly [number, number, number] = [0.247, 0.2435, 0.2616];

/** The official files, byte-identical to those inside cifar-10-binary.tar.gz. */
export const CIFAR10_FILES = [
  { name: 'data_batch_1.bin', sha256: 'cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5' },
  { name: 'data_batch_2.bin', sha256: 'a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed' },
  { name: 'data_batch_3.bin', sha256: 'bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67' },
  { name: 'data_batch_4.bin', sha256: '014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48' },
  { name: 'data_batch_5.bin', sha256: '755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add' },
  { name: 'test_batch.bin', sha256: '8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b' },
] as const;

export const TRAIN_FILES = CIFAR10_FILES.slice(0, 5).map((f) => f.name);
export const TEST_FILES = [CIFAR10_FILES[5].name];

/** The name of the folder the official archive unpacks to. */
export const CIFAR10_DIRNAME = 'cifar-10-batches-bin';

/**
 * Missing, truncated, corrupt or wrong-sized CIFAR-10 data. The message names the file, what was
 * expected and the fix.
 */
export class CifarDataError extends Error {
  constructor(
    message: string,
    /** The offending file or folder. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'CifarDataError';
  }
}

/** Images [N, 3, 32, 32] as bytes (planar, row-major) and their labels 0..9. */
export interface CifarSplit {
  readonly n: number;
  /** n * 3072 bytes. */
  readonly images: Uint8Array;
  /** n labels in 0..9. */
  readonly labels: Uint8Array;
}

/**
 * Parses record files (bytes already verified) into one split, in the given order. Each part
 * must hold exactly RECORDS_PER_FILE records; `hint` (what to do) ends every error.
 */
export function parseCifarRecords(parts: readonly { name: string; bytes: Uint8Array }[], hint = ''): CifarSplit {
  const n = parts.length * RECORDS_PER_FILE;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let i = 0;
  for (const { name, bytes } of parts) {
    if (bytes.length !== FILE_BYTES) {
      throw new CifarDataError(`CIFAR-10: ${name} has ${bytes.length} bytes, expected ${FILE_BYTES}. ${hint}`, name);
    }
    for (let r = 0; r < RECORDS_PER_FILE; r++, i++) {
      const o = r * RECORD_BYTES;
      const label = bytes[o];
      if (label >= NUM_CLASSES) {
        throw new CifarDataError(
          `CIFAR-10: ${name} record ${r} has label ${label}, expected 0..${NUM_CLASSES - 1} ` +
            `(${NUM_CLASSES} classes); the file is corrupt. ${hint}`,
          name,
        );
      }
      labels[i] = label;
      images.set(bytes.subarray(o + 1, o + RECORD_BYTES), i * IMAGE_BYTES);
    }
  }
  return { n, images, labels };
}
