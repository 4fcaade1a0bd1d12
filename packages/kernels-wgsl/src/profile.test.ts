// The kernel profile's choices for adapters other than this machine's (built from a stand-in
// runtime), and options that reach the kernels without module globals.
import { describe, expect, it } from 'vitest';
import type { Runtime } from '@wgtorch/tensor';
import { KernelProfile } from './profile.js';

function profileOf(software: boolean, subgroupSize: number | undefined, storageBuffers = 10): KernelProfile {
  const rt = {
    profile: { software, subgroupSize, submitDepth: software ? 1 : 2 },
    limits: { maxStorageBuffersPerShaderStage: storageBuffers },
  };
  return new KernelProfile(rt as unknown as Runtime);
}

describe('kernel profile', () => {
  it('picks the subgroup kernels and CPU splits on a software adapter with 8-wide subgroups', () => {
    const p = profileOf(true, 8);
    expect([p.conv2dVariants, p.conv2dRuleVariant, p.weightGradSplitGroups, p.batchNormSplit]).toEqual([
      ['tiled', 'subgroup'],
      'subgroup',
      48,
      false,
    ]);
    expect([p.reduceSplits(8, 100000), p.reduceSplits(100, 100000), p.reduceSplits(8, 5000)]).toEqual([7, 1, 1]);
  });

  it('picks the tiled kernels and GPU splits on a GPU, whatever its subgroups', () => {
    for (const size of [8, 32, undefined]) {
      const p = profileOf(false, size);
      expect([p.conv2dRuleVariant, p.weightGradSplitGroups, p.batchNormSplit]).toEqual(['tiled', 2048, true]);
      expect(p.conv2dVariants).toEqual(size === 8 ? ['tiled', 'subgroup'] : ['tiled']);
    }
    expect([profileOf(false, 32).reduceSplits(8, 100000), profileOf(false, 32).reduceSplits(1000, 100000)]).toEqual([
      49, 1,
    ]);
  });

  it('fuses batch norm only where 9 storage buffers bind', () => {
    expect([profileOf(true, 8, 9).batchNormFusable, profileOf(true, 8, 8).batchNormFusable]).toEqual([true, false]);
  });

  it('takes options that override its choices and drop what was memoized under the old ones', () => {
    const p = profileOf(true, 8);
    expect(p.memoize('k', () => 1)).toBe(1);
    expect(p.memoize('k', () => 2)).toBe(1);
    const prev = p.setOptions({ conv2dVariant: 'tiled' });
    expect([prev, p.conv2dVariant(), p.memoize('k', () => 3)]).toEqual([{}, 'tiled', 3]);
    p.setOptions(prev);
    expect(p.conv2dVariant()).toBe('subgroup');
  });
});
