// @wgtorch/resnet20: the seed's ResNet20, the CIFAR-10 pipeline and the trainer.
export {
  ResNet20,
  BasicBlock,
  summary,
  RESNET20_FORWARD_FLOPS,
  type ResNet20Options,
  type ShortcutType,
} from './model.js';
export { trainStep, type StepAccumulators } from './train/step.js';
export { trainMain, evaluate, decayGroups, makeSchedule, CHECKPOINT_FILE, type TrainerState } from './train/trainer.js';
export { parseTrainArgs, DEFAULTS as TRAIN_DEFAULTS, type TrainConfig } from './train/config.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint, type NamedArrays } from './train/checkpoint.js';
export { runGolden, formatGolden, GOLDEN_TOLERANCE, type GoldenResult, type GoldenRow } from './golden.js';
export * from './data/index.js';
