// The repository's ResNet20 golden fixtures (test/fixtures, made by scripts/make-fixtures.py) are
// compact: they leave out the momentum buffers and parameters after each SGD step, which follow
// from the starting weights and the stored gradients by PyTorch's SGD rule (the script asserts
// that this recomputation gives PyTorch's own tensors). expandFixture adds them back, so every
// reader sees the full format of ../shared/fixtures (test/fixtures/README.md).

import type { SafeTensor, SafeTensorsFile } from '@wgtorch/tensor';

/** Metadata `derived` of a compact file: the SGD rule (no dampening) and where `init.*` is. */
interface Derived {
  /** 'init.': this file's init.* tensors; else the file beside it that holds them. */
  init: string;
  /** The lr of each step; the number of steps. */
  lr: number[];
  momentum: number;
  weight_decay: number;
  /** 'all' parameters, or those with ndim > 1 (conv and linear weights). */
  decay: 'all' | 'ndim>1';
  nesterov: boolean;
}

/**
 * A fixture with `step{s}.momentum.<param>` and `step{s}.after.<param>` added where its
 * metadata `derived` says how (float64, stored as float32 like the rest of the full format);
 * a file without it is returned as it is. `sibling(name)` loads a file from the same folder.
 */
export function expandFixture(
  file: SafeTensorsFile,
  source: string,
  sibling: (name: string) => SafeTensorsFile,
): SafeTensorsFile {
  const text = file.metadata.derived;
  if (text === undefined) return file;
  const fail = (detail: string) =>
    new Error(
      `${source}: ${detail} (a compact fixture; see test/fixtures/README.md, remake with scripts/make-fixtures.py).`,
    );
  const rule = JSON.parse(text) as Derived;
  if (
    !Array.isArray(rule.lr) ||
    typeof rule.momentum !== 'number' ||
    typeof rule.weight_decay !== 'number' ||
    !['all', 'ndim>1'].includes(rule.decay) ||
    typeof rule.nesterov !== 'boolean'
  ) {
    throw fail(
      `metadata derived is ${text}; ` +
        `expected {init, lr: [..], momentum, weight_decay, decay: 'all' | 'ndim>1', nesterov}`,
    );
  }
  const initFile = rule.init === 'init.' ? file : sibling(rule.init);
  const get = (f: SafeTensorsFile, key: string, where: string): SafeTensor => {
    const t = f.tensors.get(key);
    if (!t) throw fail(`key '${key}' is missing from ${where}`);
    return t;
  };
  const tensors = new Map(file.tensors);
  const names = [...file.tensors.keys()]
    .filter((k) => k.startsWith('step0.grad.'))
    .map((k) => k.slice('step0.grad.'.length));
  for (const name of names) {
    const init = get(initFile, `init.${name}`, rule.init === 'init.' ? source : rule.init);
    const p = Float64Array.from(init.data as Float32Array);
    const buf = new Float64Array(p.length);
    const wd = rule.decay === 'all' || init.shape.length > 1 ? rule.weight_decay : 0;
    rule.lr.forEach((lr, s) => {
      const g = get(file, `step${s}.grad.${name}`, source).data as Float32Array;
      for (let i = 0; i < p.length; i++) {
        const d = g[i] + wd * p[i];
        buf[i] = s === 0 ? d : rule.momentum * buf[i] + d;
        p[i] -= lr * (rule.nesterov ? d + rule.momentum * buf[i] : buf[i]);
      }
      for (const [what, v] of [
        ['momentum', buf],
        ['after', p],
      ] as const) {
        const key = `step${s}.${what}.${name}`;
        if (!tensors.has(key)) tensors.set(key, { dtype: 'F32', shape: [...init.shape], data: Float32Array.from(v) });
      }
    });
  }
  return { tensors, metadata: file.metadata };
}
