import { afterAll, describe, expect, it } from 'vitest';
import { getRuntime } from '@wgtorch/tensor';
import { autotuneConv2dVariant, conv2dTuningTable, describeConv2dAutotune } from './autotune.js';
import { availableVariants, conv2dVariant } from './variants.js';
import { CONV2D_PROBE_KEY, conv2dShapeKey, kernelProfile } from '../profile.js';

await getRuntime();

describe('conv2d autotune', () => {
  afterAll(() => {
    kernelProfile().setOptions({});
    kernelProfile().conv2dTuning.clear();
  });

  it('times every variant the adapter runs and keeps one of them, under the probe shape', async () => {
    const r = await autotuneConv2dVariant();
    const variants = availableVariants();
    if (variants.length < 2) {
      expect(r.skipped).toMatch(/only the tiled kernels/);
      expect(r.ms).toEqual({});
      expect(kernelProfile().conv2dTuning.size).toBe(0);
    } else {
      expect(Object.keys(r.ms).sort()).toEqual([...variants].sort());
      for (const v of variants) expect(r.ms[v]).toBeGreaterThan(0);
      expect(r.ms[r.chosen]).toBe(Math.min(...variants.map((v) => r.ms[v]!)));
      expect(describeConv2dAutotune(r)).toMatch(new RegExp(`^conv2d kernels: ${r.chosen} \\(autotuned in [0-9.]+ s: `));
      expect(kernelProfile().conv2dTuning.get(CONV2D_PROBE_KEY)).toEqual({ chosen: r.chosen, ms: r.ms });
      expect(conv2dTuningTable()).toEqual([
        { shape: 'x4x16x32x32 w16x16x3x3 s1 p1', chosen: r.chosen, ms: expect.stringContaining(`${r.chosen} `) },
      ]);
    }
    expect(conv2dVariant()).toBe(r.chosen);
  });

  it('answers a shape it did not time with the probe result, and a timed shape with its own', () => {
    const p = kernelProfile();
    p.conv2dTuning.set(CONV2D_PROBE_KEY, { chosen: 'tiled', ms: { tiled: 1 } });
    const other = conv2dShapeKey([8, 32, 16, 16], [32, 32, 3, 3], 1, 1);
    expect(p.conv2dVariant(other)).toBe('tiled');
    p.conv2dTuning.set(other, { chosen: 'subgroup', ms: { subgroup: 1 } });
    expect(p.conv2dVariant(other)).toBe('subgroup');
    expect(p.conv2dVariant()).toBe('tiled');
    p.conv2dTuning.clear();
    expect(p.conv2dVariant(other)).toBe(p.conv2dRuleVariant);
  });

  it('measures nothing while the options force a variant', async () => {
    kernelProfile().setOptions({ conv2dVariant: 'tiled' });
    const r = await autotuneConv2dVariant();
    expect(r).toMatchObject({ chosen: 'tiled', ms: {}, skipped: 'forced by the conv2dVariant option' });
    kernelProfile().setOptions({});
  });
});
