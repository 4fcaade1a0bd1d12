"""Reductions, softmax over any dim and broadcasting matmul (#16): PyTorch's outputs and input gradients.

Each case of metadata 'cases' is [key, op, input keys, args]. Outputs are <key>.y (the values;
max/min with a dim also <key>.indices, int32 values stored as float32), the gradient given
<key>.dy, and each leaf's gradient <key>.d0, <key>.d1. Inputs: x [3,4,5]; ties [2,3] (tied
maxima and minima); xnan [3,4] (NaN in rows 0 and 2, +-inf in row 1); zeros [3,4] (one zero in
row 0, two in row 1, none in row 2); ninf [2,3] (a row of -inf for logsumexp); matmul operands
m.*. Math in float64 on float32-exact inputs, stored as float32.
"""

import json

import torch

from ._util import f32, rounded, with_values

FILE = 'reduce-golden'
SEED = 1617

NAN, INF = float('nan'), float('inf')

CASES = [
    # key, op, inputs, args (dim None: the full reduction)
    ['maxAll', 'max', ['x'], [None, False]],
    ['minAll', 'min', ['x'], [None, False]],
    ['maxTies', 'max', ['ties'], [None, False]],
    ['minTies', 'min', ['ties'], [None, False]],
    ['maxDim1', 'max', ['x'], [1, False]],
    ['minDim0Keep', 'min', ['x'], [0, True]],
    ['maxDimNeg', 'max', ['x'], [-1, True]],
    ['maxTiesDim', 'max', ['ties'], [1, False]],
    ['minTiesDim', 'min', ['ties'], [1, False]],
    ['maxNanDim', 'max', ['xnan'], [1, False]],
    ['minNanDim', 'min', ['xnan'], [1, False]],
    ['maxNanAll', 'max', ['xnan'], [None, False]],
    ['amax02', 'amax', ['x'], [[0, 2], False]],
    ['aminTiesKeep', 'amin', ['ties'], [[1], True]],
    ['argmax2', 'argmax', ['x'], [2, False]],
    ['argminKeep', 'argmin', ['x'], [0, True]],
    ['argmaxFlat', 'argmax', ['x'], [None, False]],
    ['argminFlat', 'argmin', ['ties'], [None, False]],
    ['argmaxNan', 'argmax', ['xnan'], [1, False]],
    ['logsumexp1', 'logsumexp', ['x'], [[1], False]],
    ['logsumexp02Keep', 'logsumexp', ['x'], [[0, 2], True]],
    ['logsumexpInf', 'logsumexp', ['ninf'], [[1], False]],
    ['var02', 'var', ['x'], [[0, 2], True, False]],
    ['varAllBiased', 'var', ['x'], [None, False, False]],
    ['var1Keep', 'var', ['x'], [[1], True, True]],
    ['std1', 'std', ['x'], [[1], True, False]],
    ['stdAllBiased', 'std', ['x'], [None, False, False]],
    ['std20Keep', 'std', ['x'], [[2, 0], True, True]],
    ['prod1', 'prod', ['x'], [1, False]],
    ['prodAll', 'prod', ['zeros'], [None, False]],
    ['prodZeros', 'prod', ['zeros'], [1, False]],
    ['prodZerosKeep', 'prod', ['zeros'], [0, True]],
    ['softmax0', 'softmax', ['x'], [0]],
    ['softmax1', 'softmax', ['x'], [1]],
    ['softmaxLast', 'softmax', ['x'], [-1]],
    ['logSoftmax0', 'logSoftmax', ['x'], [0]],
    ['logSoftmax1', 'logSoftmax', ['x'], [-2]],
    ['logSoftmaxLast', 'logSoftmax', ['x'], [2]],
    ['mmBroadcast', 'matmul', ['m.a4', 'm.b3'], []],
    ['mmDot', 'matmul', ['m.v4', 'm.w4'], []],
    ['mmVecMat', 'matmul', ['m.v4', 'm.b243'], []],
    ['mmMatVec', 'matmul', ['m.a234', 'm.v4'], []],
    ['mmFold', 'matmul', ['m.a734', 'm.b45'], []],
    ['mmReuse', 'matmul', ['m.a34', 'm.b245'], []],
    ['mm2d', 'matmul', ['m.a34', 'm.b45'], []],
]


def run(op, xs, args):
    if op in ('max', 'min'):
        dim, keepdim = args
        if dim is None:
            return getattr(xs[0], op)(), None
        r = getattr(xs[0], op)(dim, keepdim)
        return r.values, r.indices
    if op in ('amax', 'amin'):
        return getattr(torch, op)(xs[0], args[0], args[1]), None
    if op in ('argmax', 'argmin'):
        return getattr(torch, op)(xs[0], *([] if args[0] is None else args)), None
    if op == 'logsumexp':
        return torch.logsumexp(xs[0], args[0], args[1]), None
    if op in ('var', 'std'):
        dim, unbiased, keepdim = args
        f = getattr(torch, op)
        return (f(xs[0], unbiased=unbiased) if dim is None else f(xs[0], dim, unbiased=unbiased, keepdim=keepdim)), None
    if op == 'prod':
        return (xs[0].prod() if args[0] is None else xs[0].prod(args[0], args[1])), None
    if op == 'softmax':
        return torch.softmax(xs[0], args[0]), None
    if op == 'logSoftmax':
        return torch.log_softmax(xs[0], args[0]), None
    if op == 'matmul':
        return torch.matmul(xs[0], xs[1]), None
    raise ValueError(op)


def make(g):
    inputs = {
        'x': rounded([3, 4, 5], g),
        'ties': torch.tensor([[1.0, 3.0, 3.0], [-2.0, 3.0, -2.0]], dtype=torch.float64),
        'xnan': with_values([3, 4], [1.0, NAN, 3.0, NAN, -INF, 2.0, INF, 0.5, 2.0, 1.0, 0.0, NAN], g),
        'zeros': torch.tensor([[2.0, 0.0, 3.0, -1.0], [0.0, 1.5, 0.0, 2.0], [0.5, -2.0, 1.25, 3.0]],
                              dtype=torch.float64),
        'ninf': torch.tensor([[-INF, -INF, -INF], [1.0, -INF, 2.0]], dtype=torch.float64),
        'm.a4': rounded([2, 1, 3, 4], g),
        'm.b3': rounded([5, 4, 6], g),
        'm.v4': rounded([4], g),
        'm.w4': rounded([4], g),
        'm.b243': rounded([2, 4, 3], g),
        'm.a234': rounded([2, 3, 4], g),
        'm.a734': rounded([7, 3, 4], g),
        'm.b45': rounded([4, 5], g),
        'm.a34': rounded([3, 4], g),
        'm.b245': rounded([2, 4, 5], g),
    }
    out = {k: f32(v) for k, v in inputs.items()}
    for key, op, names, args in CASES:
        leaves = [inputs[n].clone().requires_grad_(op not in ('argmax', 'argmin')) for n in names]
        y, indices = run(op, leaves, args)
        out[f'{key}.y'] = f32(y)
        if indices is not None:
            out[f'{key}.indices'] = f32(indices)
        if op in ('argmax', 'argmin'):
            continue
        dy = rounded([y.numel()], g).reshape(y.shape)
        y.backward(dy)
        out[f'{key}.dy'] = f32(dy)
        for i, leaf in enumerate(leaves):
            out[f'{key}.d{i}'] = f32(leaf.grad)
    meta = {'cases': json.dumps(CASES), 'doc': __doc__.strip(), 'torch': torch.__version__,
            'made_by': 'scripts/fixture_ops/reduce.py through scripts/make-fixtures.py --only reduce-golden'}
    return out, meta
