// @wgtorch/resnet20: everything of the portable entry (@wgtorch/resnet20/browser), plus the Node-only
// trainer, checkpoints, golden check and CIFAR-10 acquisition.
export * from './browser.js';
export { ProgressBar, formatDuration, type ProgressOptions } from './util/progress.js';
export { trainMain, CHECKPOINT_FILE, type TrainerState } from './train/trainer.js';
export { parseTrainArgs, DEFAULTS as TRAIN_DEFAULTS, type TrainConfig } from './train/config.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint, type NamedArrays } from './train/checkpoint.js';
export { runGolden, formatGolden, GOLDEN_TOLERANCE, type GoldenResult, type GoldenRow } from './golden.js';
export * from './data/index.js';
