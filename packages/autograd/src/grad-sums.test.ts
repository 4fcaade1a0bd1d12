// An op that declares `sumsGrads` gets a second gradient of its output as ctx.dy2 instead of
// the engine adding the two first (one dispatch fewer per residual). A third is added as before.

import { beforeAll, describe, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { apply, defineOp, tensor, type Tensor } from './tensor.js';
import { mul, sum } from './functional.js';
import type { BackendName } from './backend.js';

beforeAll(async () => {
  await getRuntime();
});

/** y = 2x, whose backward adds dy2 itself, noting what it was given. */
function doubling(seen: { dy2: number }) {
  const op = defineOp({
    name: 'test.double',
    sumsGrads: true,
    forward: (b, [x]) => ({ y: b.k.scale(x, 2) }),
    backward: (b, dy, { dy2 }) => {
      if (!dy2) return [b.k.scale(dy, 2)];
      seen.dy2++;
      const s = b.k.add(dy, dy2);
      const g = b.k.scale(s, 2);
      b.release(s);
      return [g];
    },
  });
  return (x: Tensor) => apply(op, [x], undefined);
}

describe.each(['gpu', 'cpu64'] as BackendName[])('sumsGrads (%s)', (backend) => {
  it('hands a second consumer gradient to the backward, a third one added', async () => {
    for (const consumers of [1, 2, 3]) {
      const seen = { dy2: 0 };
      const x = tensor([1, -2, 3], [3], { requiresGrad: true, backend });
      const y = doubling(seen)(x);
      const weights = [3, 5, 7].slice(0, consumers);
      let loss = sum(mul(y, weights[0]));
      for (const w of weights.slice(1)) loss = loss.add(sum(mul(y, w)));
      loss.backward();
      const want = 2 * weights.reduce((a, w) => a + w, 0);
      expect(Array.from(await x.grad!.toArray())).toEqual([want, want, want]);
      expect(seen.dy2).toBe(consumers > 1 ? 1 : 0);
    }
  });
});
