"""Optimizer goldens: a few Adam / AdamW steps (amsgrad on and off, weight decay, maximize, two groups) on a
small parameter set with given gradients, and torch.nn.utils.clip_grad_norm_ (norm types 2, 1, inf; clipping
and not). PyTorch runs in float32, as the library does; the tests compare at float32 tolerance.

Keys: `init.p{i}` the starting parameters; `grad.s{t}.p{i}` the gradient of parameter i at step t (t = 0, 1, 2);
`{case}.s{t}.p{i}` parameter i after step t of optimizer case `case`; `{case}.exp_avg.p{i}`,
`{case}.exp_avg_sq.p{i}` (and `{case}.max_exp_avg_sq.p{i}` with amsgrad) the state after the last step.
Metadata `cases` lists each case's class and hyperparameters (groups: parameter indices per group, each
group's overrides). Clip: `clip.grad.p{i}` the gradients, `clip.{case}.norm` the returned total norm and
`clip.{case}.p{i}` the clipped gradients; metadata `clip_cases` gives max_norm and norm_type ('inf').
"""

import json
import math

import torch

FILE = 'optim-golden'
SEED = 31

SHAPES = [[5, 3], [7], [2, 2, 3], [1], [33]]
STEPS = 3

CASES = {
    'adam': {'cls': 'Adam', 'lr': 1e-2},
    'adam_l2': {'cls': 'Adam', 'lr': 3e-2, 'betas': [0.8, 0.99], 'weight_decay': 0.1},
    'adam_amsgrad': {'cls': 'Adam', 'lr': 1e-2, 'weight_decay': 0.05, 'amsgrad': True},
    'adamw': {'cls': 'AdamW', 'lr': 1e-2},
    'adamw_amsgrad': {'cls': 'AdamW', 'lr': 2e-2, 'betas': [0.9, 0.95], 'eps': 1e-6, 'weight_decay': 0.1,
                      'amsgrad': True},
    'adamw_maximize': {'cls': 'AdamW', 'lr': 1e-2, 'weight_decay': 0.2, 'maximize': True},
    'adamw_groups': {'cls': 'AdamW', 'lr': 1e-2, 'weight_decay': 0.1,
                     'groups': [{'params': [0, 2], 'overrides': {}},
                                {'params': [1, 3, 4], 'overrides': {'lr': 5e-3, 'weight_decay': 0.0}}]},
}

CLIP_CASES = {
    'l2': {'max_norm': 1.0, 'norm_type': 2.0},
    'l2_noclip': {'max_norm': 100.0, 'norm_type': 2.0},
    'l1': {'max_norm': 2.0, 'norm_type': 1.0},
    'inf': {'max_norm': 0.5, 'norm_type': 'inf'},
}

OPT_KEYS = {'lr': 'lr', 'betas': 'betas', 'eps': 'eps', 'weight_decay': 'weight_decay', 'amsgrad': 'amsgrad',
            'maximize': 'maximize'}


def make(g):
    out = {}
    init = [torch.randn(*s, generator=g) for s in SHAPES]
    grads = [[torch.randn(*s, generator=g) * (0.5 + t) for s in SHAPES] for t in range(STEPS)]
    for i, p in enumerate(init):
        out[f'init.p{i}'] = p
    for t in range(STEPS):
        for i, gr in enumerate(grads[t]):
            out[f'grad.s{t}.p{i}'] = gr
    for name, case in CASES.items():
        params = [torch.nn.Parameter(p.clone()) for p in init]
        kw = {OPT_KEYS[k]: (tuple(v) if k == 'betas' else v) for k, v in case.items() if k in OPT_KEYS}
        if 'groups' in case:
            spec = [{'params': [params[i] for i in gr['params']], **gr['overrides']} for gr in case['groups']]
        else:
            spec = params
        opt = getattr(torch.optim, case['cls'])(spec, **kw)
        for t in range(STEPS):
            for p, gr in zip(params, grads[t]):
                p.grad = gr.clone()
            opt.step()
            for i, p in enumerate(params):
                out[f'{name}.s{t}.p{i}'] = p.detach().clone()
        for i, p in enumerate(params):
            st = opt.state[p]
            assert int(st['step']) == STEPS
            out[f'{name}.exp_avg.p{i}'] = st['exp_avg']
            out[f'{name}.exp_avg_sq.p{i}'] = st['exp_avg_sq']
            if case.get('amsgrad'):
                out[f'{name}.max_exp_avg_sq.p{i}'] = st['max_exp_avg_sq']
    clip_grads = [torch.randn(*s, generator=g) for s in SHAPES]
    for i, gr in enumerate(clip_grads):
        out[f'clip.grad.p{i}'] = gr
    for name, case in CLIP_CASES.items():
        params = [torch.nn.Parameter(torch.zeros(*s)) for s in SHAPES]
        for p, gr in zip(params, clip_grads):
            p.grad = gr.clone()
        norm_type = math.inf if case['norm_type'] == 'inf' else case['norm_type']
        total = torch.nn.utils.clip_grad_norm_(params, case['max_norm'], norm_type)
        out[f'clip.{name}.norm'] = total.reshape(1)
        for i, p in enumerate(params):
            out[f'clip.{name}.p{i}'] = p.grad
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}
    meta = {'shapes': json.dumps(SHAPES), 'steps': str(STEPS), 'cases': json.dumps(CASES),
            'clip_cases': json.dumps(CLIP_CASES), 'keys': __doc__.split('Keys: ', 1)[1].strip()}
    return tensors, meta
