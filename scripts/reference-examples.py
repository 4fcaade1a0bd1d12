#!/usr/bin/env python3
"""PyTorch's figures for the two `pnpm example` models: the same architectures (scripts/fixture_ops/examples.py), the
same recipes and defaults as examples/src/{transformer,mobilenet}/train.ts, trained in float32 on the CPU, so the
closing figures of an example can be set beside PyTorch's. Not needed by any test.

    /usr/bin/python3 scripts/reference-examples.py transformer [--steps 1000]
    /usr/bin/python3 scripts/reference-examples.py mobilenet [--epochs 2] [--cifar DIR]
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_ops.examples import MOBILE, Block, MobileNet, mobile_init  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cosine(step, t_max, warmup, base, eta_min=0.0):
    """CosineAnnealingLR of packages/autograd/src/optim/schedules.ts (warmup from 0)."""
    if step < warmup:
        return base * step / warmup
    u = 1.0 if t_max - warmup <= 0 else min(1.0, (step - warmup) / (t_max - warmup))
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * u)) / 2


class CharGPT(nn.Module):
    """As examples/src/transformer/model.ts, with dropout and PyTorch's default inits (the example's too)."""

    def __init__(self, vocab, block=64, embd=64, heads=4, layers=2, dropout=0.1):
        super().__init__()
        self.tok = nn.Embedding(vocab, embd)
        self.pos = nn.Embedding(block, embd)
        self.blocks = nn.ModuleList([Block(embd, heads) for _ in range(layers)])
        self.lnf = nn.LayerNorm(embd)
        self.head = nn.Linear(embd, vocab, bias=False)
        self.p = dropout

    def forward(self, idx):
        B, T = idx.shape
        x = F.dropout(self.tok(idx) + self.pos(torch.arange(T)), self.p, self.training)
        for b in self.blocks:
            D, H = x.shape[2], b.heads
            h = b.ln1(x)
            q, k, v = b.qkv(h).split(D, dim=2)
            q, k, v = (t.reshape(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // H))
            att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float('-inf')).softmax(-1)
            att = F.dropout(att, self.p, self.training)
            y = (att @ v).transpose(1, 2).reshape(B, T, D)
            x = x + F.dropout(b.proj(y), self.p, self.training)
            x = x + F.dropout(b.fc2(F.gelu(b.fc(b.ln2(x)))), self.p, self.training)
        return self.head(self.lnf(x))


def transformer(args):
    text = open(os.path.join(REPO, 'examples', 'data', 'moby-dick-ch1-20.txt'), encoding='utf8').read()
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text], dtype=torch.long)
    cut = int(len(ids) * 0.9)
    train, val = ids[:cut], ids[cut:]
    torch.manual_seed(args.seed)
    B, T = 32, 64
    model = CharGPT(len(vocab))
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}],
                            lr=3e-3, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(args.seed + 1)

    def batch(src, gen):
        o = torch.randint(0, len(src) - T - 1, (B,), generator=gen)
        return torch.stack([src[i:i + T] for i in o]), torch.stack([src[i + 1:i + T + 1] for i in o])

    t0 = time.time()
    losses = []
    for step in range(1, args.steps + 1):
        for grp in opt.param_groups:
            grp['lr'] = cosine(step - 1, args.steps, round(args.steps / 20), 3e-3, 3e-4)
        x, y = batch(train, g)
        loss = F.cross_entropy(model(x).reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps:
            model.eval()
            vg = torch.Generator().manual_seed(12345)
            with torch.no_grad():
                vl = sum(F.cross_entropy(model(x).reshape(-1, len(vocab)), y.reshape(-1)).item()
                         for x, y in (batch(val, vg) for _ in range(8))) / 8
            model.train()
            print(f'step {step}  loss {loss.item():.4f}  mean of last 50 {np.mean(losses[-50:]):.4f}  val {vl:.4f}'
                  f'  ({time.time() - t0:.0f} s)', flush=True)


def read_split(d, names):
    raw = np.concatenate([np.fromfile(os.path.join(d, n), dtype=np.uint8).reshape(-1, 3073) for n in names])
    return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(raw[:, 0].astype(np.int64))


def mobilenet(args):
    d = args.cifar or os.environ.get('CIFAR10_DIR') or os.path.join(REPO, '..', 'shared', 'cifar10',
                                                                     'cifar-10-batches-bin')
    xtr, ytr = read_split(d, [f'data_batch_{i}.bin' for i in range(1, 6)])
    xte, yte = read_split(d, ['test_batch.bin'])
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
    std = torch.tensor([0.247, 0.2435, 0.2616]).view(1, 3, 1, 1)
    norm = lambda x: (x.float() / 255 - mean) / std
    torch.manual_seed(args.seed)
    model = MobileNet(MOBILE)
    with torch.no_grad():
        mobile_init(model, torch.Generator().manual_seed(args.seed))
    B = 128
    steps = len(xtr) // B
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    t = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(xtr), generator=g)
        model.train()
        tot, correct = 0.0, 0
        for s in range(steps):
            for grp in opt.param_groups:
                grp['lr'] = cosine(t, args.epochs * steps, steps >> 2, 2e-3)
            idx = order[s * B:(s + 1) * B]
            x = F.pad(norm(xtr[idx]), (4, 4, 4, 4))
            dx, dy = torch.randint(0, 9, (2, B), generator=g)
            x = torch.stack([x[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32] for i in range(B)])
            flip = torch.rand(B, generator=g) < 0.5
            x[flip] = x[flip].flip(3)
            logits = model(x)
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            t += 1
            tot += loss.item() * B
            correct += (logits.argmax(1) == ytr[idx]).sum().item()
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(norm(xte[i:i + 500])) for i in range(0, len(xte), 500)])
        acc = (out.argmax(1) == yte).float().mean().item()
        tl = F.cross_entropy(out, yte).item()
        print(f'epoch {epoch + 1}: train loss {tot / (steps * B):.4f}  train acc {correct / (steps * B) * 100:.2f}%'
              f'  test loss {tl:.4f}  test acc {acc * 100:.2f}%  ({time.time() - t0:.0f} s)', flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('example', choices=['transformer', 'mobilenet'])
    ap.add_argument('--steps', type=int, default=1000)
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--cifar')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformer(args) if args.example == 'transformer' else mobilenet(args)


if __name__ == '__main__':
    main()
