// CPU time of the calling thread, from Linux's /proc/thread-self/schedstat (nanoseconds on the
// CPU): the host cost of a training step without the time the thread sat preempted while the
// adapter's own threads (lavapipe's workers) had the cores. Undefined elsewhere.

import { existsSync, readFileSync } from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';
const available = existsSync(SCHEDSTAT);

/** Milliseconds this thread has spent on a CPU, or undefined where the system does not say. */
export function threadCpuMs(): number | undefined {
  return available ? Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6 : undefined;
}

/** What the host figures measure: the thread's CPU time where known, else wall time. */
export const HOST_CLOCK: 'thread CPU time' | 'wall time' = available ? 'thread CPU time' : 'wall time';
