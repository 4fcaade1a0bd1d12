#!/usr/bin/env python3
"""Makes the golden fixtures of the tests (test/fixtures/*.safetensors) with PyTorch.

Run from the repository root with a Python 3 that has PyTorch (Debian: `apt install
python3-torch`, then use /usr/bin/python3; PyTorch 1.13 or newer):

    /usr/bin/python3 scripts/make-fixtures.py               # writes test/fixtures/
    /usr/bin/python3 scripts/make-fixtures.py --cifar DIR   # CIFAR-10 binary files in DIR
    /usr/bin/python3 scripts/make-fixtures.py --out DIR     # somewhere else
    /usr/bin/python3 scripts/make-fixtures.py --only elementwise-golden   # one file (repeatable)

The recipe golden needs the CIFAR-10 training files (the official binary version): --cifar,
else CIFAR10_DIR, ../shared/cifar10/cifar-10-batches-bin, ~/.cache/wgtorch/cifar-10-batches-bin
(where `pnpm train` caches them). Math is float64 on one thread with fixed seeds, so a rerun
writes the same bytes. test/fixtures/README.md explains every key; the formats follow
../shared/fixtures/README.md, compacted: the ResNet20 files store the starting weights and the
gradients in F16 (the weights are rounded to F16 before PyTorch runs, and each SGD step uses the
stored gradients, so both are exact) and leave out what PyTorch's SGD rule derives from them
(momentum buffers, parameters after a step), which the tests' loader recomputes in float64
(metadata `derived`; the script asserts the recomputation gives PyTorch's tensors).
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# As CIFAR10_MEAN / CIFAR10_STD in packages/resnet20/src/data/cifar10.ts (the test checks).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.2435, 0.2616)
# The official training files and their sha256 (CIFAR10_FILES in cifar10.ts).
TRAIN_FILES = {
    'data_batch_1.bin': 'cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5',
    'data_batch_2.bin': 'a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed',
    'data_batch_3.bin': 'bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67',
    'data_batch_4.bin': '014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48',
    'data_batch_5.bin': '755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add',
}
# The trainer's defaults (packages/resnet20/src/train/config.ts): 15 epochs of 390 steps.
RECIPE = {'batch': 128, 'epochs': 15, 'steps_per_epoch': 390, 'max_lr': 0.2, 'warmup': 0.25, 'div_factor': 10,
          'final_div_factor': 100, 'momentum': 0.9, 'weight_decay': 5e-4, 'pad': 4}


# ---------------------------------------------------------------- safetensors

DTYPES = {torch.float16: 'F16', torch.float32: 'F32', torch.float64: 'F64', torch.int32: 'I32', torch.uint8: 'U8'}


def write_safetensors(path, tensors, metadata):
    """tensors: ordered {name: tensor}; data laid out in that order, no gaps."""
    header = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes()  # little-endian on every machine PyTorch runs on
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)  # the reference writer pads the header to 8 bytes with spaces
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + '.tmp', path)
    print(f'{os.path.relpath(path, REPO)}: {len(tensors)} tensors, {os.path.getsize(path):,} bytes')


def f32(t):
    return t.detach().to(torch.float32)


# Stored gradients: F16 where its rounding costs at most these fractions of the test's tolerance
# (relative L2, and max |diff| / max |expected|), else F32. Rounding errors are independent of a
# kernel's, so they add in quadrature: 1/3 of the L2 tolerance tightens it by about 6%.
STORE_FRACTION = {'l2': 1 / 3, 'max': 1 / 8}
store_report = {}


def store_grad(name, g, tol):
    """The stored form of gradient g (float64) for a file whose gradient tolerances are
    tol = (rel L2, max rel to max): F16 when its rounding error fits STORE_FRACTION, else F32."""
    for dtype in (torch.float16, torch.float32):
        st = g.to(dtype)
        d = st.double() - g
        l2 = (d.norm() / g.norm().clamp_min(1e-300)).item() / tol[0]
        mx = (d.abs().max() / g.abs().max().clamp_min(1e-300)).item() / tol[1]
        if l2 <= STORE_FRACTION['l2'] and mx <= STORE_FRACTION['max']:
            worst = store_report.setdefault((tol, dtype), [0.0, 0.0, 0])
            worst[0], worst[1], worst[2] = max(worst[0], l2), max(worst[1], mx), worst[2] + 1
            return st
    raise AssertionError(f'{name}: even F32 rounding exceeds {STORE_FRACTION} of the tolerance {tol}')


# ---------------------------------------------------------------- the model

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:  # the seed's option B: 1x1 conv + BN
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet20(nn.Module):
    """The seed's ResNet20 (packages/resnet20/src/model.ts), 272,474 parameters, same names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stage = lambda cin, cout, s: nn.Sequential(
            BasicBlock(cin, cout, s), BasicBlock(cout, cout, 1), BasicBlock(cout, cout, 1))
        self.layer1 = stage(16, 16, 1)
        self.layer2 = stage(16, 32, 2)
        self.layer3 = stage(32, 64, 2)
        self.fc_out = nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc_out(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def state(model):
    """The state dict without num_batches_tracked (the fixtures' names)."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}


def make_init(g):
    """Float32 starting weights: Kaiming-normal convs, PyTorch's Linear init, BN affine params and
    running statistics moved away from 1/0 so that every path is exercised."""
    model = ResNet20()
    init = {}
    for k, v in state(model).items():
        shape = v.shape
        if k.endswith('running_mean'):
            t = 0.1 * torch.randn(shape, generator=g)
        elif k.endswith('running_var'):
            t = 0.5 + 1.5 * torch.rand(shape, generator=g)
        elif v.ndim == 4:  # conv: fan_out, relu
            t = torch.randn(shape, generator=g) * math.sqrt(2.0 / (shape[0] * shape[2] * shape[3]))
        elif k.startswith('fc_out.'):
            t = (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(64)
        elif k.endswith('.weight'):  # BN gamma
            t = 0.5 + torch.rand(shape, generator=g)
        else:  # BN beta
            t = 0.1 * torch.randn(shape, generator=g)
        init[k] = t.to(torch.float16)  # stored exactly: PyTorch starts from these values
    return init


def model_from(init):
    model = ResNet20().double()
    model.load_state_dict({k: v.double() for k, v in init.items()}, strict=False)
    return model


# ---------------------------------------------------------------- ops-golden-s0

# (N, Cin, H, W, Cout, k, stride, pad): ResNet20's convolution kinds (3->16 stem, 16->16, the
# stride-2 3x3 and 1x1 projections, 32->64 and 64->64 at their real sizes) and odd ones (7x9 input
# with stride 2, 5x5 kernel, 1x1 stride 2 on odd sizes).
CONV_CASES = [
    (2, 3, 16, 16, 16, 3, 1, 1),
    (2, 16, 16, 16, 16, 3, 1, 1),
    (2, 16, 16, 16, 32, 3, 2, 1),
    (2, 16, 16, 16, 32, 1, 2, 0),
    (2, 32, 16, 16, 64, 3, 2, 1),
    (2, 64, 8, 8, 64, 3, 1, 1),
    (3, 5, 7, 9, 6, 3, 2, 1),
    (2, 4, 6, 5, 3, 5, 1, 2),
    (2, 6, 9, 7, 5, 1, 2, 0),
]
BN_CASES = [(2, 16, 16, 16), (3, 7, 5, 3)]


def leaf(t):
    return t.double().requires_grad_(True)


def make_ops(g):
    out = {}
    for i, (n, cin, h, w, cout, k, s, p) in enumerate(CONV_CASES):
        x = torch.randn(n, cin, h, w, generator=g)
        wt = torch.randn(cout, cin, k, k, generator=g) * math.sqrt(2.0 / (cin * k * k))
        xd, wd = leaf(x), leaf(wt)
        y = F.conv2d(xd, wd, stride=s, padding=p)
        dy = torch.randn(y.shape, generator=g)
        y.backward(dy.double())
        out.update({f'conv{i}.x': x, f'conv{i}.w': wt, f'conv{i}.y': f32(y), f'conv{i}.dy': dy,
                    f'conv{i}.dx': f32(xd.grad), f'conv{i}.dw': f32(wd.grad),
                    f'conv{i}.params': torch.tensor([n, cin, h, w, cout, k, s, p], dtype=torch.int32)})
    for i, shape in enumerate(BN_CASES):
        c = shape[1]
        x = 0.5 + 2 * torch.randn(shape, generator=g)
        gamma = 0.5 + 1.25 * torch.rand(c, generator=g)
        beta = 0.3 * torch.randn(c, generator=g)
        dy = torch.randn(shape, generator=g)
        xd, gd, bd = leaf(x), leaf(gamma), leaf(beta)
        y = F.batch_norm(xd, None, None, gd, bd, training=True, eps=1e-5)
        y.backward(dy.double())
        xx = x.double()
        out.update({f'bn{i}.x': x, f'bn{i}.gamma': gamma, f'bn{i}.beta': beta, f'bn{i}.y': f32(y), f'bn{i}.dy': dy,
                    f'bn{i}.dx': f32(xd.grad), f'bn{i}.dgamma': f32(gd.grad), f'bn{i}.dbeta': f32(bd.grad),
                    f'bn{i}.batch_mean': f32(xx.mean((0, 2, 3))),
                    f'bn{i}.batch_var_unbiased': f32(xx.var((0, 2, 3), unbiased=True))})
    x = torch.randn(2, 64, 8, 8, generator=g)
    xd = leaf(x)
    y = F.adaptive_avg_pool2d(xd, 1)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy.double())
    out.update({'avgpool.x': x, 'avgpool.y': f32(y), 'avgpool.dy': dy, 'avgpool.dx': f32(xd.grad)})
    x = torch.randn(8, 64, generator=g)
    wt = (torch.rand(10, 64, generator=g) * 2 - 1) / 8
    b = (torch.rand(10, generator=g) * 2 - 1) / 8
    xd, wd, bd = leaf(x), leaf(wt), leaf(b)
    y = F.linear(xd, wd, bd)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy.double())
    out.update({'linear.x': x, 'linear.w': wt, 'linear.b': b, 'linear.y': f32(y), 'linear.dy': dy,
                'linear.dx': f32(xd.grad), 'linear.dw': f32(wd.grad), 'linear.db': f32(bd.grad)})
    logits = 3 * torch.randn(8, 10, generator=g)
    labels = torch.randint(0, 10, (8,), generator=g, dtype=torch.int64)
    ld = leaf(logits)
    loss = F.cross_entropy(ld, labels)
    loss.backward()
    out.update({'xent.logits': logits, 'xent.labels': labels.to(torch.int32), 'xent.loss': f32(loss).reshape(1),
                'xent.dlogits': f32(ld.grad)})
    meta = {'conv.params': 'N,Cin,H,W,Cout,k,stride,pad; weights OIHW; NCHW; no bias',
            'batchnorm': 'training mode, eps 1e-5, biased variance for normalization',
            'math': 'float64, stored as float32; inputs are exactly the stored float32 values', 'seed': '0',
            'made_by': 'scripts/make-fixtures.py'}
    return out, meta


# ---------------------------------------------------------------- resnet20-golden-s0

def train_steps(init, batches, make_opt, dtype=torch.float64, from_state=None, store=None):
    """Train-mode forward, cross-entropy, backward and optimizer step per batch; returns per step
    (logits, loss, grads, state after, momentum buffers after, lr, computed grads). With from_state (one state per
    step), each step starts from that state instead of the previous step's result. With store
    (name, grad -> stored tensor), grads are the stored ones and the step uses exactly those."""
    model = model_from(init).to(dtype)
    model.train()
    opt, sched = make_opt(model)
    out = []
    for step, (x, y) in enumerate(batches):
        if from_state is not None:
            model.load_state_dict({k: v.to(dtype) for k, v in from_state[step].items()}, strict=False)
        opt.zero_grad()
        logits = model(x.to(dtype))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        grads = raw = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
        if store:
            grads = {k: store(k, g) for k, g in grads.items()}
            for k, p in model.named_parameters():
                p.grad.copy_(grads[k].to(dtype))
        lr = opt.param_groups[0]['lr']
        opt.step()
        if sched:
            sched.step()
        bufs = {k: opt.state[p]['momentum_buffer'].clone() for k, p in model.named_parameters()}
        after = {k: v.clone() for k, v in state(model).items()}
        out.append((logits.detach(), loss.detach(), grads, after, bufs, lr, raw))
    return out


def float32_deviation(init, batches, make_opt, ref):
    """The worst gradient difference of PyTorch's own float32 run from the float64 one (each step
    from the float64 state before it, as the tests do): rel L2, and max |diff| / max |expected| / 5
    (the golden tolerances' ratio). About 3e-6 when rounding flips no ReLU; 1e-3 and more when it
    flips one, which no float32 implementation can be expected to reproduce."""
    states = [init] + [{k: f32(v) for k, v in r[3].items()} for r in ref[:-1]]
    r32 = train_steps(init, batches, make_opt, torch.float32, from_state=states)
    worst = 0.0
    for r, r64 in zip(r32, ref):
        g32, g64 = r[6], r64[6]
        for k, e in g64.items():
            d = g32[k].double() - e
            worst = max(worst, (d.norm() / e.norm()).item(), (d.abs().max() / e.abs().max()).item() / 5)
    return worst


def plain_sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4), None


def make_resnet20(init):
    """The format of ../shared/fixtures/resnet20-golden-s0: eval forward, two SGD steps. The data
    is the first seed (1000, 1001, ...) at which float32 rounding flips no ReLU that matters."""
    for data_seed in range(1000, 1100):
        g = torch.Generator().manual_seed(data_seed)
        xs = [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]
        ys = [torch.randint(0, 10, (8,), generator=g, dtype=torch.int64) for _ in range(2)]
        batches = list(zip(xs, ys))
        # Gradients to 1e-5: the float64 engine's test (autograd nn.test.ts) checks them that closely.
        ref = train_steps(init, batches, plain_sgd, store=lambda k, g: store_grad(k, g, (1e-5, 1e-5)))
        dev = float32_deviation(init, batches, plain_sgd, ref)
        if dev < 1e-4:
            break
        print(f'resnet20-golden-s0: data seed {data_seed}: PyTorch float32 differs by {dev:.1e} '
              '(a ReLU flipped); next seed')
    out = {f'init.{k}': v for k, v in init.items()}
    for i in range(2):
        out[f'x{i}'] = xs[i]
        out[f'y{i}'] = ys[i].to(torch.int32)
    model = model_from(init)
    model.eval()
    with torch.no_grad():
        out['logits_eval'] = f32(model(xs[0].double()))
    derived = {'init': 'init.', 'lr': [0.1, 0.1], 'momentum': 0.9, 'weight_decay': 5e-4, 'decay': 'all',
               'nesterov': False}
    check_derived(init, ref, derived)
    for step, (logits, loss, grads, after, *_) in enumerate(ref):
        out[f'step{step}.logits_train'] = f32(logits)
        out[f'step{step}.loss'] = f32(loss).reshape(1)
        for k, v in grads.items():
            out[f'step{step}.grad.{k}'] = v
        for k, v in after.items():
            if 'running_' in k:  # the parameters follow from init and the gradients (derived)
                out[f'step{step}.after.{k}'] = f32(v)
    meta = {'derived': json.dumps(derived),
            'model': 'ResNet20 of the seed (1x1-conv projection shortcuts), 272474 parameters, '
                     'PyTorch state_dict names',
            'math': 'float64, stored as float32; init weights exactly the stored float16 values, '
                    'inputs the stored float32 ones; each SGD step uses the stored (float16) gradients',
            'batchnorm': 'train mode normalizes with biased batch variance; '
                         'running_var updated with unbiased variance; momentum 0.1; eps 1e-5',
            'loss': 'mean softmax cross-entropy over the batch',
            'sgd': 'lr 0.1, momentum 0.9, weight_decay 5e-4 on every parameter, PyTorch semantics: '
                   'd=g+wd*p; buf=d on first step else momentum*buf+d; p-=lr*buf',
            'compact': 'step{s}.after.<param> and step{s}.momentum.<param> are not stored: '
                       'derived (float64) from init, the stored gradients and the rule in derived; '
                       'running statistics after each step are stored',
            'sequence': 'logits_eval = eval-mode forward of init on x0; '
                        'step0 = train-mode forward/backward on (x0,y0) then SGD; '
                        "step1 = same on (x1,y1) from step0's result",
            'seed': '0', 'data_seed': str(data_seed), 'float32_deviation': f'{dev:.1e}',
            'batch': '8', 'height': '32', 'width': '32', 'made_by': 'scripts/make-fixtures.py'}
    return out, meta


# ---------------------------------------------------------------- resnet20-recipe-golden

def find_cifar(arg):
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    candidates = [arg, os.environ.get('CIFAR10_DIR'),
                  os.path.join(REPO, '..', 'shared', 'cifar10', 'cifar-10-batches-bin'),
                  os.path.join(cache, 'wgtorch', 'cifar-10-batches-bin')]
    for d in candidates:
        if d and os.path.exists(os.path.join(d, 'data_batch_1.bin')):
            return d
    sys.exit('make-fixtures: CIFAR-10 not found (looked at --cifar, CIFAR10_DIR, '
             '../shared/cifar10/cifar-10-batches-bin and ~/.cache/wgtorch/cifar-10-batches-bin). '
             'Run `pnpm train --epochs 0` once to fetch it into the cache, or pass --cifar DIR.')


def read_train_split(d):
    """All 50000 training records in file order: uint8 images [N,3,32,32] and labels."""
    raw = bytearray()
    for name, sha in TRAIN_FILES.items():
        data = open(os.path.join(d, name), 'rb').read()
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            sys.exit(f'make-fixtures: {os.path.join(d, name)} has sha256 {got}, expected {sha}: '
                     'not the official CIFAR-10 file.')
        raw += data
    rec = torch.frombuffer(raw, dtype=torch.uint8).reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).clone(), rec[:, 0].to(torch.int64)


def augment(images_u8, crops):
    """The trainer's augmentation (augmentBatch): zero-pad 4, crop 32x32 at (dx, dy), then flip
    horizontally where flip is 1; pixels / 255 normalized with the CIFAR-10 mean and std."""
    pad = RECIPE['pad']
    x = images_u8.double() / 255
    x = F.pad(x, (pad, pad, pad, pad))  # zero pixels, normalized below like the kernel's
    out = torch.empty(images_u8.shape, dtype=torch.float64)
    for i, (dx, dy, flip) in enumerate(crops.tolist()):
        c = x[i, :, dy:dy + 32, dx:dx + 32]
        out[i] = c.flip(-1) if flip else c
    mean = torch.tensor(CIFAR10_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, dtype=torch.float64).view(1, 3, 1, 1)
    return (out - mean) / std


def recipe_opt(model):
    """The trainer's optimizer (decayGroups, trainMain) and schedule (makeSchedule)."""
    r = RECIPE
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{'params': decay, 'weight_decay': r['weight_decay']}, {'params': no_decay, 'weight_decay': 0.0}]
    opt = torch.optim.SGD(groups, lr=r['max_lr'], momentum=r['momentum'], nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=r['max_lr'], total_steps=r['epochs'] * r['steps_per_epoch'], pct_start=r['warmup'],
        anneal_strategy='linear', cycle_momentum=False, div_factor=r['div_factor'],
        final_div_factor=r['final_div_factor'], three_phase=False)
    return opt, sched


def derive_sgd(init, grads, derived):
    """PyTorch's SGD rule (no dampening) in float64: per step (params after, momentum buffers)
    from the starting weights and each step's gradients. What the tests' loader recomputes."""
    m, wd = derived['momentum'], derived['weight_decay']
    p = {k: init[k].double() for k in grads[0]}
    buf = {}
    out = []
    for s, gs in enumerate(grads):
        for k, g in gs.items():
            d = g.double() + (wd * p[k] if derived['decay'] == 'all' or p[k].ndim > 1 else 0)
            buf[k] = d if s == 0 else m * buf[k] + d
            p[k] = p[k] - derived['lr'][s] * (d + m * buf[k] if derived['nesterov'] else buf[k])
        out.append((dict(p), dict(buf)))
    return out


def check_derived(init, ref, derived):
    """The derivation must give PyTorch's own parameters and momentum buffers (to float64 rounding)."""
    for s, (after, bufs) in enumerate(derive_sgd(init, [r[2] for r in ref], derived)):
        assert abs(ref[s][5] - derived['lr'][s]) <= 1e-15 * derived['lr'][s], (s, ref[s][5])
        for k in after:
            for what, mine, torch_t in (('after', after[k], ref[s][3][k]), ('momentum', bufs[k], ref[s][4][k])):
                err = ((mine - torch_t).abs().max() / torch_t.abs().max()).item()
                assert err <= 1e-12, \
                    f'step{s}.{what}.{k}: the derivation differs from PyTorch by {err:.1e} (relative to max)'


def make_recipe(init, cifar_dir):
    """Two training steps at the trainer's real configuration, from the init of resnet20-golden-s0.
    At batch 128 float32 rounding always flips some ReLUs: of a few candidate batches, the one
    where PyTorch's own float32 run stays closest to float64."""
    r = RECIPE
    images, labels = read_train_split(cifar_dir)
    best = None
    for data_seed in range(2000, 2004):
        g = torch.Generator().manual_seed(data_seed)
        idx = torch.randperm(images.shape[0], generator=g)[:r['batch']]
        crops = [torch.stack([torch.randint(0, 2 * r['pad'] + 1, (r['batch'],), generator=g),
                              torch.randint(0, 2 * r['pad'] + 1, (r['batch'],), generator=g),
                              torch.randint(0, 2, (r['batch'],), generator=g)], 1).to(torch.int32) for _ in range(2)]
        batches = [(augment(images[idx], crops[s]), labels[idx]) for s in range(2)]
        ref = train_steps(init, batches, recipe_opt, store=lambda k, g: store_grad(k, g, (1e-2, 2e-2)))
        dev = float32_deviation(init, batches, recipe_opt, ref)
        print(f'resnet20-recipe-golden: data seed {data_seed}: PyTorch float32 differs by {dev:.1e}')
        if best is None or dev < best[0]:
            best = (dev, data_seed, idx, crops, ref)
    dev, data_seed, idx, crops, ref = best
    derived = {'init': 'resnet20-golden-s0.safetensors', 'lr': [ref[0][5], ref[1][5]], 'momentum': r['momentum'],
               'weight_decay': r['weight_decay'], 'decay': 'ndim>1', 'nesterov': True}
    check_derived(init, ref, derived)
    out = {'indices': idx.to(torch.int32), 'images': images[idx], 'labels': labels[idx].to(torch.int32),
           'step0.crops': crops[0], 'step1.crops': crops[1],
           'lr': torch.tensor([ref[0][5], ref[1][5]], dtype=torch.float64)}
    for step, (logits, loss, grads, after, *_) in enumerate(ref):
        out[f'step{step}.logits'] = f32(logits)
        out[f'step{step}.loss'] = f32(loss).reshape(1)
        for k, v in grads.items():
            out[f'step{step}.grad.{k}'] = v
        for k, v in after.items():
            if 'running_' in k:  # parameters and momentum buffers follow from init and the gradients (derived)
                out[f'step{step}.after.{k}'] = f32(v)
    total = r['epochs'] * r['steps_per_epoch']
    meta = {'init': 'init.* of resnet20-golden-s0.safetensors in the same folder',
            'data': 'images: 128 CIFAR-10 training images (uint8 [N,3,32,32], planes as in the .bin files) '
                    'at indices (file order over data_batch_1..5), labels',
            'augment': 'per step, crops [N,3] = (dx, dy, flip): zero-pad 4, crop 32x32 at (dx, dy), '
                       'flip horizontally if flip; pixels/255 normalized with mean and std',
            'mean': json.dumps(CIFAR10_MEAN), 'std': json.dumps(CIFAR10_STD),
            'sgd': 'Nesterov momentum 0.9; weight decay 5e-4 on conv and linear weights (ndim > 1), '
                   'none on BN parameters and biases; PyTorch semantics',
            'schedule': f'OneCycleLR max_lr {r["max_lr"]}, total_steps {total}, pct_start {r["warmup"]}, '
                        f'div_factor {r["div_factor"]}, final_div_factor {r["final_div_factor"]}, '
                        'linear, no momentum cycling; lr = the lr of steps 0 and 1',
            'total_steps': str(total), 'batch': str(r['batch']),
            'sequence': 'step s: train-mode forward of the augmented batch (crops of step s), mean cross-entropy, '
                        "backward, SGD step, scheduler step; step1 starts from step0's result",
            'derived': json.dumps(derived),
            'compact': 'step{s}.after.<param> and step{s}.momentum.<param> are not stored: '
                       'derived (float64) from init, the stored gradients and the rule in derived',
            'math': 'float64, stored as float32 (gradients as float16 where exact enough); '
                    'each SGD step uses the stored gradients',
            'seed': '0', 'data_seed': str(data_seed), 'float32_deviation': f'{dev:.1e}',
            'made_by': 'scripts/make-fixtures.py'}
    return out, meta


# ---------------------------------------------------------------- elementwise ops

# Special values first (NaN, infinities, signed zeros, kinks, branch points, beyond softplus's
# threshold), then seeded normal values.
ELEMENTWISE_SPECIAL = [float('nan'), float('-inf'), float('inf'), -0.0, 0.0, -1.0, 1.0, 0.5, -0.5, 2.0, -2.0, 1e-4,
                       -1e-4, -3.7, 5.0, -7.0, 25.0, -25.0, 21.0, -0.49]
# (key, op, args): the unary cases; the test maps op to the library's function with these arguments.
ELEMENTWISE_UNARY = [
    ('abs', 'abs', []), ('reciprocal', 'reciprocal', []), ('erf', 'erf', []), ('gelu', 'gelu', ['none']),
    ('gelu_tanh', 'gelu', ['tanh']), ('silu', 'silu', []), ('leaky_relu', 'leaky_relu', []),
    ('leaky_relu_0.2', 'leaky_relu', [0.2]), ('softplus', 'softplus', []), ('softplus_b2_t5', 'softplus', [2, 5]),
    ('clamp_-1_1', 'clamp', [-1, 1]), ('clamp_min_0.5', 'clamp', [0.5, None]),
    ('clamp_max_-0.5', 'clamp', [None, -0.5]), ('clamp_2_1', 'clamp', [2, 1]),
] + [(f'pow_{e}', 'pow', [e]) for e in (2, 3, 0.5, -0.5, -1, -2, 0, 1, 2.5, -1.5, 4)]


def elementwise_fn(op, args):
    if op == 'abs':
        return torch.abs
    if op == 'reciprocal':
        return torch.reciprocal
    if op == 'erf':
        return torch.erf
    if op == 'gelu':
        return lambda x: F.gelu(x, approximate=args[0])
    if op == 'silu':
        return F.silu
    if op == 'leaky_relu':
        return lambda x: F.leaky_relu(x, *args)
    if op == 'softplus':
        return lambda x: F.softplus(x, *args)
    if op == 'clamp':
        return lambda x: torch.clamp(x, *args)
    if op == 'pow':
        return lambda x: torch.pow(x, args[0])
    raise ValueError(op)


def make_elementwise(g):
    """Forward values and gradients of the elementwise ops, float64 math on float32 inputs that
    include NaN, infinities and signed zeros; maximum/minimum/pow of two tensors broadcast
    [3,1,6] with [4,6], with ties."""
    def inputs(shape, values, scale=2.0):
        n = math.prod(shape)
        rest = torch.randn(n - len(values), generator=g, dtype=torch.float64) * scale
        return torch.cat([torch.tensor(values, dtype=torch.float64), rest]).to(torch.float32).double().reshape(shape)

    out = {}
    x = inputs([4, 9], ELEMENTWISE_SPECIAL)
    dy = torch.randn(4, 9, generator=g, dtype=torch.float64).float().double()
    out['x'], out['dy'] = f32(x), f32(dy)
    for key, op, args in ELEMENTWISE_UNARY:
        xl = x.clone().requires_grad_(True)
        y = elementwise_fn(op, args)(xl)
        y.backward(dy)
        out[f'{key}.y'], out[f'{key}.dx'] = f32(y), f32(xl.grad)
    a = inputs([3, 1, 6], ELEMENTWISE_SPECIAL[:12])
    b = inputs([4, 6], [1.0, float('nan'), 2.0, -0.0, 0.5, float('inf'), -1.0, 3.0, 0.0, 0.0, -2.0, 1.0])
    b[3, :] = a[0, 0, :]  # ties (with NaN too)
    dyab = torch.randn(3, 4, 6, generator=g, dtype=torch.float64).float().double()
    # pow: bases with negatives and zeros; exponents integer, half-integer, 0, NaN and infinite.
    pa = inputs([3, 1, 6], [-2.0, -0.0, 0.0, 1.0, float('nan'), -1.0, 4.0, float('inf'), 0.25])
    pb = inputs([4, 6], [3.0, 2.0, -1.0, 0.5, 0.0, float('nan'), float('inf'), -2.0, 1.5, -0.5, 1.0, 0.0])
    out['ab.a'], out['ab.b'], out['ab.dy'], out['pow.a'], out['pow.b'] = f32(a), f32(b), f32(dyab), f32(pa), f32(pb)
    for key, fn, (u, v) in (('maximum', torch.maximum, (a, b)), ('minimum', torch.minimum, (a, b)),
                            ('pow', torch.pow, (pa, pb))):
        ul, vl = u.clone().requires_grad_(True), v.clone().requires_grad_(True)
        y = fn(ul, vl)
        y.backward(dyab)
        out[f'{key}.y'], out[f'{key}.da'], out[f'{key}.db'] = f32(y), f32(ul.grad), f32(vl.grad)
    meta = {'unary': json.dumps([[k, op, args] for k, op, args in ELEMENTWISE_UNARY]),
            'unary_keys': 'x [4,9] (special values first), dy; per case <key>.y = op(x, *args), <key>.dx',
            'binary_keys': 'ab.a [3,1,6], ab.b [4,6] (row 3 of b equals a[0,0], ties), ab.dy [3,4,6]; '
                           'maximum/minimum.{y,da,db}; pow.a, pow.b, pow.{y,da,db} with the same dy',
            'math': 'float64 on the float32 inputs, stored as float32', 'torch': torch.__version__,
            'made_by': 'scripts/make-fixtures.py'}
    return out, meta


def op_modules():
    """The op fixture modules scripts/fixture_ops/<name>.py: each defines FILE (the fixture's name), SEED
    and make(g) -> (tensors, metadata), and writes test/fixtures/<FILE>.safetensors."""
    import importlib
    import pkgutil
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fixture_ops
    mods = [importlib.import_module(f'fixture_ops.{m.name}') for m in pkgutil.iter_modules(fixture_ops.__path__)
            if not m.name.startswith('_')]
    return {m.FILE: m for m in mods}


OP_MODULES = op_modules()
FIXTURE_FILES = ('ops-golden-s0', 'resnet20-golden-s0', 'resnet20-recipe-golden', 'elementwise-golden',
                 *sorted(OP_MODULES))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cifar', help='folder with the CIFAR-10 binary files')
    ap.add_argument('--out', default=os.path.join(REPO, 'test', 'fixtures'))
    ap.add_argument('--only', action='append', choices=FIXTURE_FILES,
                    help='write only this file (repeatable); default: all')
    args = ap.parse_args()
    only = set(args.only or FIXTURE_FILES)
    torch.set_num_threads(1)  # one summation order: the same bytes on every run
    cifar_dir = find_cifar(args.cifar) if 'resnet20-recipe-golden' in only else None
    os.makedirs(args.out, exist_ok=True)
    path = lambda name: os.path.join(args.out, f'{name}.safetensors')
    if 'ops-golden-s0' in only:
        write_safetensors(path('ops-golden-s0'), *make_ops(torch.Generator().manual_seed(0)))
    init = make_init(torch.Generator().manual_seed(0))
    if 'resnet20-golden-s0' in only:
        write_safetensors(path('resnet20-golden-s0'), *make_resnet20(init))
    if 'resnet20-recipe-golden' in only:
        write_safetensors(path('resnet20-recipe-golden'), *make_recipe(init, cifar_dir))
    if 'elementwise-golden' in only:
        write_safetensors(path('elementwise-golden'), *make_elementwise(torch.Generator().manual_seed(16)))
    for name, mod in OP_MODULES.items():
        if name in only:
            tensors, meta = mod.make(torch.Generator().manual_seed(mod.SEED))
            write_safetensors(path(name), tensors, {'torch': torch.__version__, 'made_by': 'scripts/make-fixtures.py',
                                                    **meta})
    for (tol, dtype), (l2, mx, n) in sorted(store_report.items(), key=str):
        print(f'gradients with tolerance {tol} stored as {DTYPES[dtype]}: {n} tensors (all candidates), '
              f'rounding at most {l2:.3f} of the L2 tolerance and {mx:.3f} of the max tolerance')


if __name__ == '__main__':
    main()
