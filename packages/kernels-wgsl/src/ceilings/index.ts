// Ceilings: the ALU (GFLOP/s) and bandwidth (GB/s) this adapter reaches at best, and the
// timing helper `pnpm bench` uses for everything it measures.
export { measureAluCeiling, measureBandwidthCeiling, type Ceiling } from './ceilings.js';
export { timeRuns, median, timestampFailure, type Timing, type TimingMethod, type TimingOptions } from './timing.js';
