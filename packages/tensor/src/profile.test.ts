import { describe, expect, it } from 'vitest';
import { adapterProfile } from './profile.js';

const report = (isSoftware: boolean, features: string[], min?: number, max?: number) => ({
  isSoftware,
  features,
  subgroupMinSize: min,
  subgroupMaxSize: max,
});

describe('adapterProfile', () => {
  it('gives lavapipe (software, subgroups of unreported width) 8-wide subgroups and one submit in flight', () => {
    expect(adapterProfile(report(true, ['subgroups']))).toEqual({ software: true, subgroupSize: 8, submitDepth: 1 });
  });

  it('gives a GPU its reported subgroup width where fixed, and two submits in flight', () => {
    expect(adapterProfile(report(false, ['subgroups'], 32, 32))).toEqual({
      software: false,
      subgroupSize: 32,
      submitDepth: 2,
    });
    expect(adapterProfile(report(false, ['subgroups'], 8, 8)).subgroupSize).toBe(8);
    expect(adapterProfile(report(false, ['subgroups'], 8, 32)).subgroupSize).toBeUndefined();
    expect(adapterProfile(report(false, ['subgroups'])).subgroupSize).toBeUndefined();
  });

  it('gives no subgroup width without the subgroups feature', () => {
    expect(adapterProfile(report(true, [])).subgroupSize).toBeUndefined();
    expect(adapterProfile(report(false, ['timestamp-query'], 32, 32)).subgroupSize).toBeUndefined();
  });
});
