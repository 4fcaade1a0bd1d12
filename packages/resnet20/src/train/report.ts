// What the trainer prints and records: one table row per epoch (like the seed's: Epoch, Train
// Loss, Test Loss, Accuracy, plus LR, images/s and elapsed time), metrics.jsonl, and the final
// comparison with the seed and the paper.

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number;
  testAcc: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** Training images per second over the epoch (excluding evaluation). */
  imagesPerSec: number;
  /** Seconds since the run started (across resumes). */
  elapsedSec: number;
  steps: number;
}

export const SEED_ACCURACY = 81.24;
export const PAPER_ACCURACY = 91.25;

export function tableHeader(): string {
  return [
    'Epoch'.padStart(5),
    'Train Loss'.padStart(10),
    'Train Acc'.padStart(9),
    'Test Loss'.padStart(9),
    'Accuracy'.padStart(8),
    'LR'.padStart(8),
    'img/s'.padStart(7),
    'Elapsed'.padStart(8),
  ].join(' | ');
}

export function tableRow(m: EpochMetrics): string {
  return [
    String(m.epoch).padStart(5),
    m.trainLoss.toFixed(4).padStart(10),
    `${(m.trainAcc * 100).toFixed(2).padStart(8)}%`,
    m.testLoss.toFixed(4).padStart(9),
    `${(m.testAcc * 100).toFixed(2).padStart(7)}%`,
    m.lr.toExponential(2).padStart(8),
    m.imagesPerSec.toFixed(1).padStart(7),
    formatDuration(m.elapsedSec).padStart(8),
  ].join(' | ');
}

/** metrics.jsonl: one JSON line per epoch. */
export function metricsJsonl(history: readonly EpochMetrics[]): string {
  return history.map((m) => JSON.stringify(m) + '\n').join('');
}

export function formatDuration(sec: number): string {
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(r).padStart(2, '0')}s`;
}

export function finalSummary(history: EpochMetrics[], totalSec: number): string {
  if (!history.length) return 'No epoch completed.';
  const best = history.reduce((a, b) => (b.testAcc > a.testAcc ? b : a));
  const last = history[history.length - 1];
  const lines = [
    '',
    `Best test accuracy ${(best.testAcc * 100).toFixed(2)}% (epoch ${best.epoch}); ` +
      `final ${(last.testAcc * 100).toFixed(2)}% after ${last.epoch} epochs in ${formatDuration(totalSec)}.`,
    '',
    '| model | epochs | test accuracy |',
    '| --- | ---: | ---: |',
    `| seed (PyTorch, constant LR) | 51 | ${SEED_ACCURACY.toFixed(2)}% |`,
    `| paper (He et al. 2016) | 182 | ${PAPER_ACCURACY.toFixed(2)}% |`,
    `| this run (final) | ${last.epoch} | ${(last.testAcc * 100).toFixed(2)}% |`,
    `| this run (best) | ${best.epoch} | ${(best.testAcc * 100).toFixed(2)}% |`,
    '',
    last.testAcc * 100 > SEED_ACCURACY
      ? `Beats the seed by ${(last.testAcc * 100 - SEED_ACCURACY).toFixed(2)} points.`
      : `${(SEED_ACCURACY - last.testAcc * 100).toFixed(2)} points below the seed.`,
  ];
  return lines.join('\n');
}
