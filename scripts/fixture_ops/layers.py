"""layerNorm, embedding and the losses (#16): PyTorch's outputs and gradients.

Each case of metadata 'cases' is [key, op, leaves, extras, args]: `leaves` are the keys of the float inputs whose
gradients are stored (<key>.d0, <key>.d1, ...), `extras` maps an option name to the key of a tensor passed without
gradient (int32 indices and targets; class and element weights), `args` holds the other options (camelCase, as the
TypeScript functions take them). The output is <key>.y; a case with a non-scalar output has the gradient given as
<key>.dy, a scalar one is differentiated as is (dy = 1). Math in float64 on float32-exact inputs, stored as float32;
int32 tensors as int32. Dropout has no golden: its mask comes from this library's hash, not PyTorch's generator.
"""

import json

import torch
import torch.nn.functional as F

from ._util import f32, rounded

FILE = 'layers-golden'
SEED = 1616

REDUCTIONS = ['none', 'mean', 'sum']


def inputs(g):
    lp = lambda *shape, dim=1: F.log_softmax(rounded(shape, g, 2.0), dim=dim).float().double()
    return {
        'ln.x': rounded([4, 3, 6], g, 2.0) + 0.5,
        'ln.w': rounded([3, 6], g) + 1.0,
        'ln.b': rounded([3, 6], g),
        'ln.x2': rounded([5, 33], g, 3.0),
        'ln.w33': rounded([33], g) + 1.0,
        'emb.w': rounded([7, 4], g),
        'emb.idx': torch.tensor([[0, 2, 5, 2, 6], [1, 1, 2, 3, 0], [6, 6, 6, 4, 2]], dtype=torch.int32),
        'nll.lp': lp(6, 5),
        'nll.t': torch.tensor([0, 4, -100, 2, 2, 1], dtype=torch.int32),
        'nll.t1': torch.tensor([0, 4, 1, 2, 2, 1], dtype=torch.int32),
        'nll.w': (torch.rand(5, generator=g, dtype=torch.float64) + 0.5).float().double(),
        'nll2.lp': lp(3, 4, 2, 2),
        'nll2.t': torch.tensor([[[0, 3], [1, -100]], [[2, 2], [3, 0]], [[1, 1], [0, 3]]], dtype=torch.int32),
        'mse.a': rounded([4, 5], g),
        'mse.b': rounded([4, 5], g),
        'bce.x': torch.cat([rounded([9], g, 3.0), torch.tensor([30.0, -30.0, 0.0], dtype=torch.float64)]).reshape(4, 3),
        'bce.t': torch.rand(4, 3, generator=g, dtype=torch.float64).float().double(),
        'bce.w': (torch.rand(4, 3, generator=g, dtype=torch.float64) + 0.5).float().double(),
        'bce.pw': torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64),
        'ce.x': rounded([5, 4], g, 2.0),
        'ce.y': torch.tensor([3, 0, 1, 3, 2], dtype=torch.int32),
    }


def cases():
    out = [
        ['lnAffine', 'layerNorm', ['ln.x', 'ln.w', 'ln.b'], {}, {'normalizedShape': [3, 6]}],
        ['lnPlain', 'layerNorm', ['ln.x'], {}, {'normalizedShape': [6]}],
        ['lnWeightEps', 'layerNorm', ['ln.x2', 'ln.w33'], {}, {'normalizedShape': [33], 'eps': 1e-2}],
        ['emb', 'embedding', ['emb.w'], {'indices': 'emb.idx'}, {}],
        ['embPad', 'embedding', ['emb.w'], {'indices': 'emb.idx'}, {'paddingIdx': 2}],
        ['embPadNeg', 'embedding', ['emb.w'], {'indices': 'emb.idx'}, {'paddingIdx': -1}],
    ]
    for r in REDUCTIONS:
        out += [
            [f'nll.{r}', 'nllLoss', ['nll.lp'], {'target': 'nll.t'}, {'reduction': r}],
            [f'nllW.{r}', 'nllLoss', ['nll.lp'], {'target': 'nll.t', 'weight': 'nll.w'}, {'reduction': r}],
            [f'nll2.{r}', 'nllLoss', ['nll2.lp'], {'target': 'nll2.t'}, {'reduction': r}],
            [f'mse.{r}', 'mseLoss', ['mse.a', 'mse.b'], {}, {'reduction': r}],
            [f'bce.{r}', 'binaryCrossEntropyWithLogits', ['bce.x', 'bce.t'], {}, {'reduction': r}],
            [f'bceW.{r}', 'binaryCrossEntropyWithLogits', ['bce.x', 'bce.t'],
             {'weight': 'bce.w', 'posWeight': 'bce.pw'}, {'reduction': r}],
            [f'ce.{r}', 'crossEntropy', ['ce.x'], {'labels': 'ce.y'}, {'reduction': r}],
            [f'ceSmooth.{r}', 'crossEntropy', ['ce.x'], {'labels': 'ce.y'}, {'reduction': r, 'labelSmoothing': 0.1}],
        ]
    out.append(['nllIgnore1', 'nllLoss', ['nll.lp'], {'target': 'nll.t1', 'weight': 'nll.w'},
                {'reduction': 'mean', 'ignoreIndex': 1}])
    return out


def run(op, xs, ex, args):
    red = args.get('reduction', 'mean')
    if op == 'layerNorm':
        w = xs[1] if len(xs) > 1 else None
        b = xs[2] if len(xs) > 2 else None
        return F.layer_norm(xs[0], args['normalizedShape'], w, b, args.get('eps', 1e-5))
    if op == 'embedding':
        return F.embedding(ex['indices'].long(), xs[0], padding_idx=args.get('paddingIdx'))
    if op == 'nllLoss':
        return F.nll_loss(xs[0], ex['target'].long(), weight=ex.get('weight'),
                          ignore_index=args.get('ignoreIndex', -100), reduction=red)
    if op == 'mseLoss':
        return F.mse_loss(xs[0], xs[1], reduction=red)
    if op == 'binaryCrossEntropyWithLogits':
        return F.binary_cross_entropy_with_logits(xs[0], xs[1], weight=ex.get('weight'), pos_weight=ex.get('posWeight'),
                                                  reduction=red)
    if op == 'crossEntropy':
        return F.cross_entropy(xs[0], ex['labels'].long(), reduction=red,
                               label_smoothing=args.get('labelSmoothing', 0.0))
    raise ValueError(op)


def make(g):
    ins = inputs(g)
    tensors = {k: (v if v.dtype == torch.int32 else f32(v)) for k, v in ins.items()}
    cs = cases()
    for key, op, leaves, extras, args in cs:
        xs = [ins[k].clone().requires_grad_(True) for k in leaves]
        ex = {name: ins[k] for name, k in extras.items()}
        y = run(op, xs, ex, args)
        tensors[f'{key}.y'] = f32(y)
        if y.dim() == 0:
            y.backward()
        else:
            dy = torch.randn(*y.shape, generator=g, dtype=torch.float64).float().double()
            tensors[f'{key}.dy'] = f32(dy)
            y.backward(dy)
        for i, x in enumerate(xs):
            tensors[f'{key}.d{i}'] = f32(x.grad)
    meta = {'cases': json.dumps(cs), 'doc': __doc__.strip().replace('\n', ' ')}
    return tensors, meta
