// Pacing submits: how many steps may be in flight, how long one takes, and waiting for them
// without spinning.
//
// Every wait goes through waitQuietly (quiet-wait.ts), which stops dawn.node from spinning the
// main thread while the GPU works. The pacer bounds the submits in flight and learns how long
// one takes: it sleeps (a timer, no CPU, no device polls) for most of that time and only then
// asks Dawn.

import type { Runtime } from './device.js';
import { waitQuietly } from './quiet-wait.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An answer within this many ms of asking means the work was already done: the pacer woke late. */
const LATE_MS = 2;

interface InFlight {
  /** When it was submitted (performance.now()). */
  at: number;
  /** Its completion, asked for at submit time where more than one submit may be in flight. */
  done?: Promise<void>;
}

/** What a {@link SubmitPacer} has waited for so far. */
export interface PacerStats {
  /** Submits waited for. */
  retired: number;
  /**
   * Of those, the ones already done when the pacer woke from its sleep and asked: the GPU may
   * have idled for part of the sleep (with one submit in flight, nothing was queued behind it).
   */
  late: number;
  /** Milliseconds slept on a timer, in all. */
  sleptMs: number;
  /** Milliseconds waited after waking, until the device answered, in all. */
  askedMs: number;
}

/** How a {@link SubmitPacer} paces submits. */
export interface PacerOptions {
  /** Fraction of the expected duration slept before asking Dawn (default 0.9). */
  sleepFraction?: number;
  /** Submits allowed in flight before throttle() waits (default: the runtime profile's submitDepth). */
  depth?: number;
}

/**
 * Bounds the submits in flight and waits for them without spinning: it learns how long a
 * submit takes, sleeps (a timer) for most of that, then asks the device. A training loop calls
 * `throttle()` before recording a step and `submit()` after it; `wait()` before reading results.
 */
export class SubmitPacer {
  private readonly inFlight: InFlight[] = [];
  private expectedMs = 0;
  /** Whether the last submit took over 1.5 times the estimate. */
  private lastSlow = false;
  private readonly sleepFraction: number;
  private readonly counts: PacerStats = { retired: 0, late: 0, sleptMs: 0, askedMs: 0 };
  /** Submits allowed in flight before throttle() waits. */
  readonly depth: number;

  constructor(
    private readonly rt: Runtime,
    opts: PacerOptions = {},
  ) {
    this.sleepFraction = opts.sleepFraction ?? 0.9;
    this.depth = Math.max(1, opts.depth ?? rt.profile.submitDepth);
  }

  /** Submits everything recorded so far and starts timing it. */
  submit(): void {
    this.rt.flush();
    // onSubmittedWorkDone covers all work submitted so far, so it is asked for now when a
    // later submit may follow before this one is waited on.
    const done = this.depth > 1 ? waitQuietly(this.rt.device.queue.onSubmittedWorkDone()) : undefined;
    this.inFlight.push({ at: performance.now(), done });
  }

  /** Waits until fewer than `depth` submits are in flight (before submitting another). */
  async throttle(): Promise<void> {
    while (this.inFlight.length >= this.depth) await this.retireOldest();
  }

  /** Waits until everything submitted through the pacer is done, sleeping rather than spinning. */
  async wait(): Promise<void> {
    while (this.inFlight.length) await this.retireOldest();
  }

  private async retireOldest(): Promise<void> {
    const f = this.inFlight[0];
    const wakeAt = f.at + this.expectedMs * this.sleepFraction;
    const now = performance.now();
    const slept = wakeAt - now > 1;
    if (slept) await sleep(wakeAt - now);
    const asked = performance.now();
    await (f.done ?? waitQuietly(this.rt.device.queue.onSubmittedWorkDone()));
    const end = performance.now();
    const took = end - f.at;
    // Sleeping too long idles the GPU (nothing is queued behind a lone submit); waking early
    // only costs polls. So one slow submit (another process, a pause) moves the estimate only a
    // little (two in a row do move it), and a late wake, where `took` is just an upper bound,
    // halves it: the next wait measures the real duration from below (easing down from a slow
    // step at a few percent a step would leave the GPU idle in each of the next dozen steps).
    const late = slept && end - asked < LATE_MS;
    const slow = took > 1.5 * this.expectedMs;
    if (this.expectedMs === 0) this.expectedMs = took;
    else if (late) this.expectedMs = 0.5 * Math.min(this.expectedMs, took);
    else this.expectedMs = 0.7 * this.expectedMs + 0.3 * (slow && !this.lastSlow ? 1.5 * this.expectedMs : took);
    this.lastSlow = slow && !late;
    this.counts.retired++;
    if (late) this.counts.late++;
    this.counts.sleptMs += asked - now;
    this.counts.askedMs += end - asked;
    this.inFlight.shift();
    this.rt.checkErrors();
  }

  /** Submits not yet waited for. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** Counts of the waits so far (a copy). */
  get stats(): PacerStats {
    return { ...this.counts };
  }

  /** The learned duration from a submit to its completion, in ms. */
  get expected(): number {
    return this.expectedMs;
  }
}
