/// <reference lib="dom" />
// The page of `pnpm bench --browser` (benchmarks/src/browser.ts): browser-steps.ts's timing on
// navigator.gpu, called by the bench as window.bench.
import { getRuntime } from '@wgtorch/tensor';
import type { TrainConfig } from '@wgtorch/resnet20/browser';
import { timeTraining } from './browser-steps.js';

const bench = {
  async adapter(): Promise<string> {
    const info = (await getRuntime()).adapter?.info;
    return [info?.description, info?.vendor, info?.architecture].filter(Boolean).join(' / ');
  },
  async time(cfg: TrainConfig, batch: number, steps: number) {
    await getRuntime();
    return timeTraining(cfg, batch, steps);
  },
};
(window as unknown as { bench: typeof bench }).bench = bench;
