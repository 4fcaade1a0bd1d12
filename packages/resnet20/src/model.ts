// The seed's ResNet20 for CIFAR-10 (He et al. 2016, section 4.2), with PyTorch's module names so
// weights move to and from PyTorch as safetensors:
//   conv1 (3x3, 3->16) + bn1 + relu
//   layer1..layer3: three BasicBlocks each (16, 32, 64 channels; stride 2 at layer2.0, layer3.0)
//     block: conv1 3x3 + bn1 + relu, conv2 3x3 + bn2, + shortcut, relu
//     shortcut: identity, or when the shape changes 'B' = 1x1 conv + BN (`shortcut.0`,
//     `shortcut.1`; the seed's, 272,474 parameters) or 'A' = the paper's parameter-free
//     subsample-and-zero-pad (269,722 parameters)
//   global average pool, fc_out: Linear(64 -> 10)
// Init: Kaiming-normal (fan_out, relu) for convs, BN weight 1 and bias 0, PyTorch's default for
// the Linear layer.

import {
  BatchNorm2d,
  Conv2d,
  Linear,
  Module,
  Sequential,
  Tensor,
  adaptiveAvgPool2d,
  conv2d,
  flatten,
  init,
  type BackendName,
} from '@wgtorch/autograd';
import { Rng, Tensor as DeviceTensor } from '@wgtorch/tensor';

export type ShortcutType = 'A' | 'B';

export interface ResNet20Options {
  /** 'B' (default): 1x1 conv + BN projection where the shape changes; 'A': parameter-free. */
  shortcut?: ShortcutType;
  numClasses?: number;
  /** Seed of the initial weights. */
  seed?: number;
  backend?: BackendName;
}

function conv3x3(cin: number, cout: number, stride: number, rng: Rng, backend: BackendName): Conv2d {
  const c = new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, rng, backend });
  init.kaimingNormal(c.weight, { mode: 'fan_out', nonlinearity: 'relu', rng });
  return c;
}

/**
 * The paper's option A shortcut: take every other pixel and zero-pad the new channels, as a
 * fixed 1x1 stride-2 convolution whose weight is an identity into the middle channels. The
 * weight is a constant, not a parameter or buffer, so it is in no state dict.
 */
class PadShortcut extends Module {
  private readonly weight: Tensor;
  constructor(
    readonly cin: number,
    readonly cout: number,
    backend: BackendName,
  ) {
    super();
    const w = new Float32Array(cout * cin);
    const pad = (cout - cin) >> 1;
    for (let i = 0; i < cin; i++) w[(i + pad) * cin + i] = 1;
    this.weight = new Tensor(
      backend === 'gpu' ? toDevice(w, [cout, cin, 1, 1]) : { data: Float64Array.from(w), shape: [cout, cin, 1, 1] },
      { untracked: true },
    );
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, null, { stride: 2 });
  }
  override dispose(): void {
    this.weight.dispose();
    super.dispose();
  }
}

function toDevice(data: Float32Array, shape: number[]): DeviceTensor {
  return DeviceTensor.fromArray(data, shape);
}

export class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  shortcut: Module;

  constructor(cin: number, cout: number, stride: number, shortcut: ShortcutType, rng: Rng, backend: BackendName) {
    super();
    this.conv1 = conv3x3(cin, cout, stride, rng, backend);
    this.bn1 = new BatchNorm2d(cout, { backend });
    this.conv2 = conv3x3(cout, cout, 1, rng, backend);
    this.bn2 = new BatchNorm2d(cout, { backend });
    if (stride !== 1 || cin !== cout) {
      if (shortcut === 'B') {
        const proj = new Conv2d(cin, cout, 1, { stride, bias: false, rng, backend });
        init.kaimingNormal(proj.weight, { mode: 'fan_out', nonlinearity: 'relu', rng });
        this.shortcut = new Sequential(proj, new BatchNorm2d(cout, { backend }));
      } else {
        this.shortcut = new PadShortcut(cin, cout, backend);
      }
    } else {
      this.shortcut = new Sequential(); // identity, named like the seed's empty nn.Sequential
    }
  }

  forward(x: Tensor): Tensor {
    // BN+ReLU and BN+add+ReLU run as fused kernels: one dispatch forward and one backward each.
    const h = this.bn1.forwardRelu(this.conv1.forward(x));
    return this.bn2.forwardAddRelu(this.conv2.forward(h), this.shortcut.forward(x));
  }
}

export class ResNet20 extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  fc_out: Linear;

  constructor(options: ResNet20Options = {}) {
    super();
    const shortcut = options.shortcut ?? 'B';
    const backend = options.backend ?? 'gpu';
    const rng = new Rng(options.seed ?? 0);
    this.conv1 = conv3x3(3, 16, 1, rng, backend);
    this.bn1 = new BatchNorm2d(16, { backend });
    const stage = (cin: number, cout: number, stride: number) =>
      new Sequential(
        new BasicBlock(cin, cout, stride, shortcut, rng, backend),
        new BasicBlock(cout, cout, 1, shortcut, rng, backend),
        new BasicBlock(cout, cout, 1, shortcut, rng, backend),
      );
    this.layer1 = stage(16, 16, 1);
    this.layer2 = stage(16, 32, 2);
    this.layer3 = stage(32, 64, 2);
    this.fc_out = new Linear(64, options.numClasses ?? 10, { rng, backend });
  }

  forward(x: Tensor): Tensor {
    let h = this.bn1.forwardRelu(this.conv1.forward(x));
    h = this.layer3.forward(this.layer2.forward(this.layer1.forward(h)));
    return this.fc_out.forward(flatten(adaptiveAvgPool2d(h, 1), 1));
  }
}

/** Forward FLOPs of one 32x32 image (multiply-adds x 2), for throughput and MFU figures. */
export const RESNET20_FORWARD_FLOPS = 81.6e6;

/** A summary like PyTorch's print(model), with parameter counts per module. */
export function summary(model: Module, name = 'ResNet20'): string {
  const lines: string[] = [];
  const count = (m: Module) => m.parameters().reduce((a, p) => a + p.size, 0);
  const describe = (m: Module): string => {
    if (m instanceof Conv2d)
      return (
        `Conv2d(${m.inChannels}, ${m.outChannels}, kernel_size=(${m.kernelSize}, ${m.kernelSize}), ` +
        `stride=(${m.stride}, ${m.stride}), padding=(${m.padding}, ${m.padding}), bias=${m.bias ? 'True' : 'False'})`
      );
    if (m instanceof BatchNorm2d)
      return (
        `BatchNorm2d(${m.numFeatures}, eps=${m.eps}, momentum=${m.momentum}, ` +
        'affine=True, track_running_stats=True)'
      );
    if (m instanceof Linear)
      return (
        `Linear(in_features=${m.weight.shape[1]}, out_features=${m.weight.shape[0]}, ` +
        `bias=${m.bias ? 'True' : 'False'})`
      );
    if (m instanceof PadShortcut) return `PadShortcut(${m.cin} -> ${m.cout}, stride=2, parameter-free)`;
    return m.constructor.name;
  };
  const walk = (m: Module, label: string, indent: string) => {
    const kids = m.namedChildren();
    const n = count(m);
    if (!kids.length) {
      lines.push(`${indent}${label}${describe(m)}${n ? `  # ${n.toLocaleString('en-US')} params` : ''}`);
      return;
    }
    lines.push(`${indent}${label}${describe(m)}(  # ${n.toLocaleString('en-US')} params`);
    for (const [k, c] of kids) walk(c, `(${k}): `, indent + '  ');
    lines.push(`${indent})`);
  };
  walk(model, '', '');
  lines.push(`Total parameters: ${count(model).toLocaleString('en-US')}`);
  void name;
  return lines.join('\n');
}
