// Labels are checked on the CPU, once per split, before any reaches the GPU (where a bad one
// gives a NaN loss, not an error): out of range or fractional, named with its index.
import { describe, expect, it } from 'vitest';
import { IMAGE_BYTES, type CifarSplit } from './cifar10.js';
import { TrainLoader, checkLabels, testBatches } from './loader.js';

function split(labels: ArrayLike<number>): CifarSplit {
  return { n: labels.length, images: new Uint8Array(labels.length * IMAGE_BYTES), labels: labels as Uint8Array };
}

describe('labels', () => {
  it('out-of-range and fractional labels are refused, naming the label, its index and the class count', () => {
    expect(() => new TrainLoader(split(Uint8Array.from([1, 2, 3, 10, 4])), { batchSize: 2, seed: 0 })).toThrow(
      'TrainLoader: label 10 at index 3 is not a class index; there are 10 classes (labels 0..9).',
    );
    expect(() => new TrainLoader(split([0, -1, 2]), { batchSize: 1, seed: 0 })).toThrow(
      /label -1 at index 1 is not a class index; there are 10 classes/,
    );
    expect(() => new TrainLoader(split([0, 1, 2.5]), { batchSize: 1, seed: 0 })).toThrow(
      /label 2\.5 at index 2 is not a class index/,
    );
    expect(() => [...testBatches(split([0, 1, 255]), 2)]).toThrow(/testBatches: label 255 at index 2 .* 10 classes/);
    expect(() => checkLabels([0, 1, 2], 'three classes', 2)).toThrow(
      /label 2 at index 2 .* 2 classes \(labels 0\.\.1\)/,
    );
  });

  it('good labels pass into the batches unchanged', () => {
    const labels = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
    const loader = new TrainLoader(split(labels), { batchSize: 4, seed: 1 });
    const b = loader.batch(0, 1);
    expect(Array.from(b.labels)).toEqual(Array.from(b.indices, (i) => labels[i]));
    expect([...testBatches(split(labels), 8)].flatMap((t) => Array.from(t.labels))).toEqual(Array.from(labels));
  });
});
