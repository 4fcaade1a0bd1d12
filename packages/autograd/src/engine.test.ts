import { beforeAll, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { tensor, tidy, mul, add, sum, exp, relu } from './index.js';
beforeAll(async () => { await getRuntime(); });
for (const backend of ['cpu64', 'gpu'] as const) {
  it('basic ' + backend, async () => {
    const a = tensor([1, 2, 3, -4, 5, 6], [2, 3], { requiresGrad: true, backend });
    const b = tensor([1, 2, 3], [3], { requiresGrad: true, backend });
    const loss = tidy(() => sum(relu(mul(add(a, b), exp(b)))));
    loss.backward();
    console.log(backend, await loss.item(), await a.grad!.toArray(), await b.grad!.toArray());
    expect(() => loss.backward()).toThrow(/second time/);
  });
}
