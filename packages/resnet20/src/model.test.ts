import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Rng } from '@wgtorch/tensor';
import { noGrad, tensor } from '@wgtorch/autograd';
import { ResNet20, summary } from './model.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

describe('ResNet20', () => {
  it("has the seed's 272,474 parameters under PyTorch names", () => {
    const m = new ResNet20();
    expect(m.numParameters()).toBe(272474);
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toContain('layer2.0.shortcut.0.weight');
    expect(names).toContain('layer3.0.shortcut.1.bias');
    expect(names).toContain('fc_out.bias');
    expect(names).not.toContain('layer1.0.shortcut.0.weight');
    expect(m.namedBuffers().map(([n]) => n)).toContain('layer3.2.bn2.running_var');
    expect(summary(m)).toMatch(/Total parameters: 272,474/);
    m.dispose();
  });

  it('option A shortcut has 269,722 parameters', () => {
    const m = new ResNet20({ shortcut: 'A' });
    expect(m.numParameters()).toBe(269722);
    m.dispose();
  });

  it('eval mode normalizes with the running statistics, as the float64 backend does', async () => {
    // Running statistics far from their initial 0 and 1, so a kernel that used the batch's
    // statistics (or the wrong channel's) in eval mode would not match.
    const rng = new Rng(3);
    const gpu = new ResNet20({ seed: 1 });
    const cpu = new ResNet20({ seed: 1, backend: 'cpu64' });
    const state = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [k, t] of gpu.stateDict()) {
      const data = Float32Array.from(await t.toArray());
      if (k.endsWith('running_mean')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.5;
      if (k.endsWith('running_var')) for (let i = 0; i < data.length; i++) data[i] = 0.25 + 2 * rng.next();
      if (k.includes('bn') && k.endsWith('.weight')) for (let i = 0; i < data.length; i++) data[i] = 0.5 + rng.next();
      state.set(k, { shape: t.shape, data });
    }
    gpu.loadStateDict(state);
    cpu.loadStateDict(state);
    gpu.eval();
    cpu.eval();
    const shape = [5, 3, 16, 12];
    const x = Array.from({ length: 5 * 3 * 16 * 12 }, () => rng.normal());
    const a = await noGrad(() => gpu.forward(tensor(x, shape))).toArray();
    const b = await noGrad(() => cpu.forward(tensor(x, shape, { backend: 'cpu64' }))).toArray();
    const max = Math.max(...Array.from(b, Math.abs));
    const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
    expect(worst / max).toBeLessThan(1e-4);
    gpu.dispose();
    cpu.dispose();
  });
});
