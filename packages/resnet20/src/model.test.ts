import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime } from '@wgtorch/tensor';
import { ResNet20, summary } from './model.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

describe('ResNet20', () => {
  it('has the seed\'s 272,474 parameters under PyTorch names', () => {
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
});
