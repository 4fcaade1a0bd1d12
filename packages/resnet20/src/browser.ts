// @wgtorch/resnet20/browser: what a page needs to train ResNet20 with the same code as
// `pnpm train` (model, step, optimizer and schedule, data pipeline, curves), and no Node
// built-in. The page gets CIFAR-10's files itself (fetch) and parses them with parseCifarRecords.
export {
  ResNet20,
  BasicBlock,
  summary,
  RESNET20_FORWARD_FLOPS,
  type ResNet20Options,
  type ShortcutType,
} from './model.js';
export { trainStep, CapturedSteps, evaluate, type StepAccumulators } from './train/step.js';
export { decayGroups, finalLr, makeOptimizer, makeSchedule } from './train/optim.js';
export type { TrainConfig } from './train/config.js';
export { curvesSvg, lineChartSvg, type CurvePoint } from './train/plot.js';
export * from './data/format.js';
export {
  TrainLoader,
  augmentParams,
  epochOrder,
  gatherImages,
  stepsPerEpoch,
  subsetSplit,
  testBatches,
  type Batch,
  type TrainLoaderOptions,
} from './data/loader.js';
export { uploadBatch, type GpuBatch, type UploadOptions } from './data/gpu.js';
export { runGoldenBytes, formatGolden, GOLDEN_TOLERANCE, type GoldenResult, type GoldenRow } from './golden-check.js';
export {
  trainSegment,
  progressLogger,
  type LoopRun,
  type Readout,
  type SegmentOptions,
  type SegmentResult,
} from './train/loop.js';
