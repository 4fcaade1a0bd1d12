"""The two example models of `pnpm example` (examples/src/transformer, examples/src/mobilenet) in PyTorch, and
their first two optimizer steps on one fixed batch: logits, loss and every gradient per step. Math is float64.

Compact like the ResNet20 golden: the starting weights are rounded to F16 before PyTorch runs (so F16 stores
them exactly); the parameters after each step are not stored, since PyTorch's Adam/AdamW rule gives them from
the starting weights and the stored gradients (the tests recompute them in float64; `derive_adam` below is that
rule, asserted here to reproduce PyTorch's own parameters to 1e-12). Dropout is 0 in the golden (PyTorch's
random stream cannot be matched); the examples train with it.
"""

import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FILE = 'examples-golden'
SEED = 23

# ---------------------------------------------------------------- the character transformer

GPT = {'vocab': 76, 'block': 64, 'embd': 64, 'heads': 4, 'layers': 2, 'batch': 4}
GPT_OPT = {'kind': 'adamw', 'lr': 3e-3, 'betas': [0.9, 0.95], 'eps': 1e-8, 'weight_decay': 0.1, 'clip': 1.0,
           'decay': 'ndim>=2'}


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def attention(self, x):
        B, T, D = x.shape
        H = self.heads
        q, k, v = self.qkv(x).split(D, dim=2)
        q, k, v = (t.reshape(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))  # [B, H, T, dh]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~causal, float('-inf')).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))


class CharGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tok = nn.Embedding(c['vocab'], c['embd'])
        self.pos = nn.Embedding(c['block'], c['embd'])
        self.blocks = nn.ModuleList([Block(c['embd'], c['heads']) for _ in range(c['layers'])])
        self.lnf = nn.LayerNorm(c['embd'])
        self.head = nn.Linear(c['embd'], c['vocab'], bias=False)

    def forward(self, idx):
        B, T = idx.shape
        x = self.tok(idx) + self.pos(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        return self.head(self.lnf(x))  # [B, T, vocab]


def gpt_init(model, g):
    """GPT-2's init: N(0, 0.02) for linear and embedding weights, zero biases, LayerNorm (1, 0)."""
    for name, p in model.named_parameters():
        if name.endswith('bias'):
            nn.init.zeros_(p)
        elif '.ln' in name or name.startswith('lnf'):
            nn.init.ones_(p)
        else:
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.02)


# ---------------------------------------------------------------- the depthwise-separable CNN

MOBILE = {'widths': [[32, 64, 1], 'pool', [64, 128, 1], [128, 128, 1], 'pool', [128, 256, 1], [256, 256, 2]],
          'stem': 32, 'classes': 10, 'batch': 8}
MOBILE_OPT = {'kind': 'adam', 'lr': 1e-3, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 0.0, 'clip': None,
              'decay': 'all'}


class Separable(nn.Module):
    """Depthwise 3x3 (stride s) + BN + ReLU, then pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn2(self.pw(F.relu(self.bn1(self.dw(x))))))


class MobileNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.stem = nn.Conv2d(3, c['stem'], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c['stem'])
        self.layers = nn.ModuleList([nn.MaxPool2d(2) if w == 'pool' else Separable(*w) for w in c['widths']])
        self.fc = nn.Linear(c['widths'][-1][1], c['classes'])

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        for layer in self.layers:
            x = layer(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def mobile_init(model, g):
    """Kaiming-normal (fan_out, relu) convs as torchvision's MobileNet, N(0, 0.01) linear weight, zero bias,
    BN (1, 0)."""
    for name, p in model.named_parameters():
        if p.ndim == 4:
            fan_out = p.shape[0] * p.shape[2] * p.shape[3]
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * math.sqrt(2.0 / fan_out))
        elif name == 'fc.weight':
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.01)
        elif name.endswith('bias'):
            nn.init.zeros_(p)
        else:
            nn.init.ones_(p)


# ---------------------------------------------------------------- two steps and the derivation


def make_optimizer(model, o):
    decay = [p for p in model.parameters() if o['decay'] == 'all' or p.ndim >= 2]
    rest = [p for p in model.parameters() if not (o['decay'] == 'all' or p.ndim >= 2)]
    groups = [{'params': decay, 'weight_decay': o['weight_decay']}, {'params': rest, 'weight_decay': 0.0}]
    cls = torch.optim.AdamW if o['kind'] == 'adamw' else torch.optim.Adam
    return cls(groups, lr=o['lr'], betas=tuple(o['betas']), eps=o['eps'])


def two_steps(model, o, inputs, targets, loss_of):
    opt = make_optimizer(model, o)
    steps = []
    for _ in range(2):
        opt.zero_grad()
        logits = model(inputs)
        loss = loss_of(logits, targets)
        loss.backward()
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
        norm = None
        if o['clip'] is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), o['clip']).item()
        opt.step()
        after = {k: p.detach().clone() for k, p in model.named_parameters()}
        steps.append({'logits': logits.detach().clone(), 'loss': loss.detach().clone(), 'grads': grads,
                      'after': after, 'norm': norm})
    return steps


def derive_adam(init, grads_per_step, o, ndims):
    """PyTorch's Adam / AdamW rule (with clip_grad_norm_ first when o['clip']) in float64: the parameters after
    each step from the starting weights and each step's gradients."""
    b1, b2 = o['betas']
    p = {k: v.double().clone() for k, v in init.items()}
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v2 = {k: torch.zeros_like(v) for k, v in p.items()}
    out = []
    for t, grads in enumerate(grads_per_step, start=1):
        coef = 1.0
        if o['clip'] is not None:
            total = torch.norm(torch.stack([torch.norm(g.double(), 2) for g in grads.values()]), 2)
            coef = min(1.0, o['clip'] / (total.item() + 1e-6))
        for k, g in grads.items():
            g = g.double() * coef if coef < 1.0 else g.double()
            wd = o['weight_decay'] if o['decay'] == 'all' or ndims[k] >= 2 else 0.0
            if o['kind'] == 'adamw':
                p[k] = p[k] * (1 - o['lr'] * wd)
            elif wd:
                g = g + wd * p[k]
            m[k] = b1 * m[k] + (1 - b1) * g
            v2[k] = b2 * v2[k] + (1 - b2) * g * g
            step_size = o['lr'] / (1 - b1 ** t)
            denom = v2[k].sqrt() / math.sqrt(1 - b2 ** t) + o['eps']
            p[k] = p[k] - step_size * m[k] / denom
        out.append(dict(p))
    return out


def record(prefix, model, o, inputs, targets, loss_of, out, meta):
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    steps = two_steps(model, o, inputs, targets, loss_of)
    derived = derive_adam(init, [s['grads'] for s in steps], o, {k: v.ndim for k, v in init.items()})
    for s, (step, mine) in enumerate(zip(steps, derived)):
        for k, want in step['after'].items():
            err = ((mine[k] - want).abs().max() / want.abs().max().clamp_min(1e-300)).item()
            assert err <= 1e-12, f'{prefix} step{s} {k}: the derivation differs from PyTorch by {err:.1e}'
    for k, v in init.items():
        out[f'{prefix}.init.{k}'] = v.to(torch.float16)
    for s, step in enumerate(steps):
        out[f'{prefix}.step{s}.logits'] = step['logits'].float()
        out[f'{prefix}.step{s}.loss'] = step['loss'].reshape(1).float()
        for k, g in step['grads'].items():
            out[f'{prefix}.step{s}.grad.{k}'] = g.float()
    meta[f'{prefix}.optimizer'] = json.dumps(o)
    meta[f'{prefix}.clip_norms'] = json.dumps([s['norm'] for s in steps])
    meta[f'{prefix}.params'] = json.dumps([[k, list(v.shape)] for k, v in init.items()])


def f16_exact(model):
    """Rounds every parameter to F16 (then float64) so the stored F16 init is exactly what PyTorch started from."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16).double())


def make(g):
    torch.set_default_dtype(torch.float64)
    try:
        out, meta = {}, {}
        gpt = CharGPT(GPT)
        with torch.no_grad():
            gpt_init(gpt, g)
            f16_exact(gpt)
        idx = torch.randint(0, GPT['vocab'], (GPT['batch'], GPT['block'] + 1), generator=g)
        out['gpt.x'], out['gpt.y'] = idx[:, :-1].to(torch.int32), idx[:, 1:].to(torch.int32)
        gpt_loss = lambda logits, y: F.cross_entropy(logits.reshape(-1, GPT['vocab']), y.reshape(-1).long())
        record('gpt', gpt, GPT_OPT, idx[:, :-1], idx[:, 1:], gpt_loss, out, meta)
        meta['gpt.config'] = json.dumps(GPT)

        mobile = MobileNet(MOBILE)
        with torch.no_grad():
            mobile_init(mobile, g)
            f16_exact(mobile)
        images = (torch.randn(MOBILE['batch'], 3, 32, 32, generator=g)).float().double()
        labels = torch.randint(0, MOBILE['classes'], (MOBILE['batch'],), generator=g)
        out['mobile.x'], out['mobile.y'] = images.float(), labels.to(torch.int32)
        record('mobile', mobile, MOBILE_OPT, images, labels, F.cross_entropy, out, meta)
        running = {k: v.float() for k, v in mobile.state_dict().items() if 'running' in k}
        for k, v in running.items():
            out[f'mobile.after.{k}'] = v  # BN running statistics after the two train-mode steps
        meta['mobile.config'] = json.dumps(MOBILE)
        meta['keys'] = ('<model>.x, <model>.y (int32 targets); <model>.init.<param> (F16, exact); '
                        '<model>.step<s>.logits, .loss, .grad.<param> (float32 of float64 math); '
                        'mobile.after.<bn>.running_mean/var after both steps; parameters after each step: '
                        "PyTorch's Adam/AdamW rule (<model>.optimizer, with clip_grad_norm_ when clip is set)")
        return out, meta
    finally:
        torch.set_default_dtype(torch.float32)
