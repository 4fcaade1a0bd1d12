import { describe, expect, it } from 'vitest';
import { ProgressBar, formatCount, formatDuration } from './progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return {
    writes,
    stream: {
      isTTY,
      columns: 200,
      write: (s: string) => (writes.push(s), true),
    } as unknown as NodeJS.WritableStream & { isTTY: boolean },
  };
}

describe('ProgressBar', () => {
  it('on a TTY redraws one line with \\r, with rate, ETA and metrics, and ends it on finish', () => {
    let t = 0;
    const { writes, stream } = fakeStream(true);
    const bar = new ProgressBar({ total: 1000, label: 'epoch 1', stream, now: () => t });
    for (let i = 1; i <= 10; i++) {
      t = i * 1000;
      bar.update(i * 100, { loss: 2.5 - i * 0.1, acc: `${i}%` });
    }
    expect(writes.every((w) => w.startsWith('\r'))).toBe(true);
    expect(writes[4]).toMatch(
      /^\repoch 1 {2}\[##########----------\] {2}50% {2}500\/1000 {2}100 img\/s {2}ETA 0:05 {2}loss 2\.000 {2}acc 5%/,
    );
    bar.log('a message');
    expect(writes.at(-2)).toMatch(/^\r +\ra message\n$/);
    bar.finish();
    expect(writes.at(-1)).toBe('\n');
    expect(writes.at(-2)).toMatch(/100%/);
  });

  it('elsewhere prints a line every 10% (not on every update) and a final line with the total time', () => {
    let t = 0;
    const { writes, stream } = fakeStream(false);
    const bar = new ProgressBar({ total: 1000, unit: 'B', stream, now: () => t });
    for (let i = 1; i <= 100; i++) {
      t = i * 100;
      bar.update(i * 10);
    }
    // Nothing in the first 2 s (20%), then one line per 10%.
    expect(writes.length).toBe(9);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes[0]).toMatch(/ 20% {2}0\.0\/0\.0 MB {2}0\.0 MB\/s/);
    bar.finish();
    expect(writes.at(-1)).toMatch(/100%.*in 0:10\n$/);
  });

  it('formats counts and durations', () => {
    expect([formatCount(12), formatCount(51200), formatCount(1234567)]).toEqual(['12', '51.2k', '1.23M']);
    expect([formatDuration(5), formatDuration(65), formatDuration(3725), formatDuration(NaN)]).toEqual([
      '0:05',
      '1:05',
      '1:02:05',
      '?',
    ]);
  });
});
