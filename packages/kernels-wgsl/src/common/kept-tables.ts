// Small u32 tables that kernels read (the split reduction's jobs, the flat optimizers' segment
// records), kept on the GPU while the same words come back: a training loop's tables repeat
// from step to step, so its steps upload none (an upload costs a native call, and inside a
// captured step a submit).

import { runtime, Tensor, type Runtime } from '@wgtorch/tensor';

export class KeptTables {
  /** Most recently used first. */
  private kept: { rt: Runtime; words: Uint32Array; tensor: Tensor<'u32'> }[] = [];

  /** At most `size` tables are kept; the least recently used one is disposed to make room. */
  constructor(private readonly size: number) {}

  /** A table holding `words`: a kept one if its words are equal, else a new upload. Callers do not dispose it. */
  get(words: Uint32Array): Tensor<'u32'> {
    const rt = runtime();
    if (this.kept.some((t) => t.rt !== rt)) this.kept = this.kept.filter((t) => t.rt === rt); // a runtime destroyed
    const at = this.kept.findIndex((t) => sameWords(t.words, words));
    if (at >= 0) {
      const hit = this.kept[at];
      if (at > 0) {
        this.kept.splice(at, 1);
        this.kept.unshift(hit);
      }
      return hit.tensor;
    }
    if (this.kept.length === this.size) this.kept.pop()!.tensor.dispose();
    const tensor = Tensor.fromArray(words, [words.length], 'u32');
    this.kept.unshift({ rt, words: words.slice(), tensor });
    return tensor;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
