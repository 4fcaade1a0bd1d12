import { describe, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { measureAluCeiling, measureBandwidthCeiling, median, timeRuns } from './index.js';

await getRuntime();

describe('ceilings', () => {
  it('measure a positive ALU rate and bandwidth', async () => {
    const alu = await measureAluCeiling({ minMs: 2, batches: 2, warmup: 1 });
    expect(alu.value).toBeGreaterThan(0);
    expect(alu.work).toBeGreaterThan(0);
    const bw = await measureBandwidthCeiling({ bytes: 1 << 20, batches: 2, warmup: 1 });
    expect(bw.value).toBeGreaterThan(0);
    expect(bw.work).toBe(2 << 20);
  });

  it('time nothing as nothing and take medians', async () => {
    const t = await timeRuns(() => {}, { method: 'wallclock', batches: 3, minBatchMs: 1 });
    expect(t.samples).toHaveLength(3);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});
