import { afterAll, describe, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { autotuneConv2dVariant, describeConv2dAutotune } from './autotune.js';
import { availableVariants, conv2dVariant, setAdapterConv2dVariant, setConv2dVariant } from './variants.js';

await getRuntime();
const ruleChoice = conv2dVariant();

describe('conv2d autotune', () => {
  afterAll(() => {
    setConv2dVariant(undefined);
    setAdapterConv2dVariant(ruleChoice);
  });

  it('times every variant the adapter runs and keeps one of them', async () => {
    const r = await autotuneConv2dVariant();
    const variants = availableVariants();
    if (variants.length < 2) {
      expect(r.skipped).toMatch(/only the tiled kernels/);
      expect(r.ms).toEqual({});
    } else {
      expect(Object.keys(r.ms).sort()).toEqual([...variants].sort());
      for (const v of variants) expect(r.ms[v]).toBeGreaterThan(0);
      expect(r.ms[r.chosen]).toBe(Math.min(...variants.map((v) => r.ms[v]!)));
      expect(describeConv2dAutotune(r)).toMatch(new RegExp(`^conv2d kernels: ${r.chosen} \\(autotuned in [0-9.]+ s: `));
    }
    expect(conv2dVariant()).toBe(r.chosen);
  });

  it('measures nothing while a variant is forced', async () => {
    setConv2dVariant('tiled');
    const r = await autotuneConv2dVariant();
    expect(r).toMatchObject({ chosen: 'tiled', ms: {}, skipped: 'forced by setConv2dVariant' });
    setConv2dVariant(undefined);
  });
});
