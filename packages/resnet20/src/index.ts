// @wgtorch/resnet20: the seed's ResNet20, the CIFAR-10 pipeline and the trainer.
export { ResNet20, BasicBlock, summary, RESNET20_FORWARD_FLOPS, type ResNet20Options, type ShortcutType } from './model.js';
