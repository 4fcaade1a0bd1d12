// SubmitPacer against a simulated queue (timers stand in for the GPU): how much idle time its
// sleeps leave after one slow submit, with one submit in flight (the depth on CPU adapters).
import { describe, expect, it } from 'vitest';
import { SubmitPacer } from './pacer.js';
import type { Runtime } from './device.js';

/** A queue that runs each submit for the next of `durations` ms, in order, and logs its idle time. */
function simulatedQueue(durations: number[]) {
  let next = 0;
  let busyUntil = 0;
  /** Per submit: ms the queue sat idle, done, before the pacer asked about it. */
  const idleBeforeAsked: number[] = [];
  const rt = {
    flush() {
      busyUntil = Math.max(performance.now(), busyUntil) + durations[next++];
    },
    checkErrors() {},
    device: {
      queue: {
        onSubmittedWorkDone(): Promise<void> {
          const now = performance.now();
          idleBeforeAsked.push(Math.max(0, now - busyUntil));
          return new Promise((r) => setTimeout(r, Math.max(0, busyUntil - now)));
        },
      },
    },
  };
  return { rt: rt as unknown as Runtime, idleBeforeAsked };
}

describe('SubmitPacer', () => {
  it('leaves the queue idle only briefly after one slow submit', async () => {
    // Steady 40 ms submits, one of 240 ms (another process, say), then 40 ms again.
    const durations = [...Array(6).fill(40), 240, ...Array(8).fill(40)];
    const { rt, idleBeforeAsked } = simulatedQueue(durations);
    const pacer = new SubmitPacer(rt, { depth: 1 });
    for (let i = 0; i < durations.length; i++) {
      await pacer.throttle();
      pacer.submit();
    }
    await pacer.wait();
    const after = idleBeforeAsked.slice(7).reduce((a, b) => a + b, 0);
    // Easing the estimate down from the slow submit at 3% a step slept through about 45 ms of
    // each of the next 8 submits (over 300 ms in all); halving it at the first late wake
    // leaves one late wake's worth.
    expect(after).toBeLessThan(60);
    expect(pacer.stats.retired).toBe(durations.length);
    expect(pacer.stats.late).toBeLessThanOrEqual(2);
  });
});
