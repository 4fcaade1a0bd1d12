// A depthwise-separable CNN for CIFAR-10 in the style of MobileNet (Howard et al. 2017), with max
// pooling: a 3x3 stem, then blocks of a depthwise 3x3 convolution and a pointwise 1x1 one (each
// followed by BatchNorm and ReLU), global average pooling and a linear classifier. Names follow
// the PyTorch module in scripts/fixture_ops/examples.py.

import {
  BatchNorm2d,
  Conv2d,
  Linear,
  MaxPool2d,
  Module,
  ModuleList,
  Tensor,
  adaptiveAvgPool2d,
  flatten,
  init,
  relu,
  type BackendName,
} from '@wgtorch/autograd';

/** Channels in and out and the stride of each separable block; 'pool' is a 2x2 max pooling. */
export type MobileLayer = [number, number, number] | 'pool';

export const MOBILE_LAYERS: MobileLayer[] = [
  [32, 64, 1],
  'pool',
  [64, 128, 1],
  [128, 128, 1],
  'pool',
  [128, 256, 1],
  [256, 256, 2],
];

/** Depthwise 3x3 (stride s) + BN + ReLU, then pointwise 1x1 + BN + ReLU. */
export class Separable extends Module {
  dw: Conv2d;
  bn1: BatchNorm2d;
  pw: Conv2d;
  bn2: BatchNorm2d;

  constructor(cin: number, cout: number, stride: number, backend: BackendName) {
    super();
    this.dw = new Conv2d(cin, cin, 3, { stride, padding: 1, groups: cin, bias: false, backend });
    this.bn1 = new BatchNorm2d(cin, { backend });
    this.pw = new Conv2d(cin, cout, 1, { bias: false, backend });
    this.bn2 = new BatchNorm2d(cout, { backend });
  }

  forward(x: Tensor): Tensor {
    return relu(this.bn2.forward(this.pw.forward(relu(this.bn1.forward(this.dw.forward(x))))));
  }
}

export class MobileNet extends Module {
  stem: Conv2d;
  bn: BatchNorm2d;
  layers: ModuleList;
  fc: Linear;

  constructor(
    readonly layout: MobileLayer[] = MOBILE_LAYERS,
    backend: BackendName = 'gpu',
    classes = 10,
  ) {
    super();
    const stem = (layout.find((l) => l !== 'pool') as [number, number, number])[0];
    this.stem = new Conv2d(3, stem, 3, { padding: 1, bias: false, backend });
    this.bn = new BatchNorm2d(stem, { backend });
    this.layers = new ModuleList(
      layout.map((l) => (l === 'pool' ? new MaxPool2d(2) : new Separable(l[0], l[1], l[2], backend))),
    );
    const last = [...layout].reverse().find((l) => l !== 'pool') as [number, number, number];
    this.fc = new Linear(last[1], classes, { backend });
    // torchvision's MobileNet init: Kaiming-normal (fan_out) convs, N(0, 0.01) classifier, zero bias.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) init.kaimingNormal(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
    init.normal(this.fc.weight, 0, 0.01);
    if (this.fc.bias) init.constant(this.fc.bias, 0);
  }

  forward(x: Tensor): Tensor {
    let h = relu(this.bn.forward(this.stem.forward(x)));
    for (const layer of this.layers) h = layer.forward(h);
    return this.fc.forward(flatten(adaptiveAvgPool2d(h, 1), 1));
  }
}
