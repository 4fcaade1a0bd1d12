"""Views, joins, indexing and comparisons (#16): PyTorch's outputs and input gradients.

Each case of metadata 'cases' is [key, op, input keys, args]. Inputs named idx* are int32
indices, mask* and cond* float 0/1 masks (no gradient), the rest float leaves. Outputs are
<key>.y0, <key>.y1, ... (one per output; split and chunk give several), the gradients they were
given <key>.dy0, ..., and each float leaf's gradient <key>.d<input position>. Comparisons have no
gradients. Math in float64 on float32-exact inputs, stored as float32.
"""

import json

import torch

from ._util import f32, rounded, with_values

FILE = 'views-golden'
SEED = 1616

NAN, INF = float('nan'), float('inf')

CASES = [
    # key, op, inputs, args
    ['transpose02', 'transpose', ['x'], [0, 2]],
    ['transposeNeg', 'transpose', ['x'], [-1, 1]],
    ['permute', 'permute', ['x'], [[2, 0, 1]]],
    ['expand', 'expand', ['xe'], [[2, 3, 4, 5]]],
    ['expandKeep', 'expand', ['xe'], [[-1, 6, -1]]],
    ['squeezeDim', 'squeeze', ['xe'], [1]],
    ['squeezeAll', 'squeeze', ['xe'], []],
    ['unsqueeze0', 'unsqueeze', ['x'], [0]],
    ['unsqueezeNeg', 'unsqueeze', ['x'], [-1]],
    ['narrow', 'narrow', ['x'], [1, 1, 2]],
    ['narrowNeg', 'narrow', ['x'], [2, -3, 2]],
    ['sliceStep', 'slice', ['x'], [1, 1, 4, 2]],
    ['sliceNeg', 'slice', ['x'], [2, -4, -1, 2]],
    ['sliceClamp', 'slice', ['x'], [1, -10, 10, 3]],
    ['sliceEmpty', 'slice', ['x'], [1, 3, 1, 1]],
    ['sliceOpen', 'slice', ['x'], [0, None, None, 2]],
    ['selectNeg', 'select', ['x'], [1, -1]],
    ['select0', 'select', ['x'], [0, 2]],
    ['flatten', 'flatten', ['x'], [1, 2]],
    ['cat1', 'cat', ['ca', 'x', 'cc'], [1]],
    ['catNeg', 'cat', ['x', 'x2'], [-1]],
    ['stack', 'stack', ['sp', 'sq', 'sp'], [1]],
    ['stackNeg', 'stack', ['sp', 'sq'], [-1]],
    ['splitSize', 'split', ['x'], [2, 2]],
    ['splitSections', 'split', ['x'], [[1, 3, 0], 1]],
    ['chunk', 'chunk', ['x'], [3, 1]],
    ['chunkFewer', 'chunk', ['x'], [4, 2]],
    ['gather1', 'gather', ['x', 'idxG1'], [1]],
    ['gather2', 'gather', ['x', 'idxG2'], [2]],
    ['indexSelect2', 'indexSelect', ['x', 'idxS'], [2]],
    ['indexSelect0', 'indexSelect', ['x', 'idxS0'], [0]],
    ['where', 'where', ['cond', 'x', 'wb'], []],
    ['maskedFill', 'maskedFill', ['x', 'mask'], ['-Infinity']],  # JSON has no infinity: a string
    ['maskedFillRow', 'maskedFill', ['x', 'maskRow'], ['2.5']],
]
COMPARISONS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge']
COMPARE_SCALARS = [0.0, 1.0, NAN, -INF]


def js_number(v):
    """v as a string JavaScript's Number() reads (JSON has no NaN or infinity)."""
    return 'NaN' if v != v else 'Infinity' if v == INF else '-Infinity' if v == -INF else repr(v)


def run(op, xs, args):
    """The op in PyTorch; a list of outputs."""
    x = xs[0]
    if op == 'transpose':
        return [x.transpose(*args)]
    if op == 'permute':
        return [x.permute(*args[0])]
    if op == 'expand':
        return [x.expand(*args[0])]
    if op == 'squeeze':
        return [x.squeeze(*args)]
    if op == 'unsqueeze':
        return [x.unsqueeze(args[0])]
    if op == 'narrow':
        return [x.narrow(*args)]
    if op == 'slice':
        dim, start, end, step = args
        return [x[(slice(None),) * dim + (slice(start, end, step),)]]
    if op == 'select':
        return [x.select(*args)]
    if op == 'flatten':
        return [x.flatten(*args)]
    if op == 'cat':
        return [torch.cat(xs, args[0])]
    if op == 'stack':
        return [torch.stack(xs, args[0])]
    if op == 'split':
        return list(torch.split(x, args[0], args[1]))
    if op == 'chunk':
        return list(torch.chunk(x, args[0], args[1]))
    if op == 'gather':
        return [torch.gather(x, args[0], xs[1].long())]
    if op == 'indexSelect':
        return [torch.index_select(x, args[0], xs[1].long())]
    if op == 'where':
        return [torch.where(xs[0] != 0, xs[1], xs[2])]
    if op == 'maskedFill':
        return [x.masked_fill(xs[1] != 0, float(args[0]))]
    raise ValueError(op)


def make(g):
    ins = {
        'x': rounded([3, 4, 5], g),
        'xe': rounded([3, 1, 5], g),
        'x2': rounded([3, 4, 2], g),
        'ca': rounded([3, 2, 5], g),
        'cc': rounded([3, 1, 5], g),
        'sp': rounded([3, 5], g),
        'sq': rounded([3, 5], g),
        'wb': rounded([5], g),
        'idxG1': torch.randint(0, 4, (3, 6, 5), generator=g, dtype=torch.int32),  # more rows than x: repeats
        'idxG2': torch.randint(0, 5, (2, 3, 7), generator=g, dtype=torch.int32),  # smaller in dims 0 and 1
        'idxS': torch.tensor([4, 0, 4, 1], dtype=torch.int32),
        'idxS0': torch.tensor([2, 2], dtype=torch.int32),
        'cond': torch.tensor([[1.0], [0.0], [NAN], [0.0]], dtype=torch.float64),  # NaN counts as true
        'mask': (torch.rand(4, 5, generator=g) < 0.4).double(),
        'maskRow': torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0], dtype=torch.float64),
    }
    out = {k: (v if v.dtype == torch.int32 else f32(v)) for k, v in ins.items()}
    for key, op, names, args in CASES:
        leaves = [ins[n].clone().requires_grad_(not n.startswith(('idx', 'mask', 'cond'))) for n in names]
        ys = run(op, leaves, args)
        dys = [rounded(list(y.shape), g) for y in ys]
        torch.autograd.backward(ys, dys)
        for i, (y, dy) in enumerate(zip(ys, dys)):
            out[f'{key}.y{i}'], out[f'{key}.dy{i}'] = f32(y), f32(dy)
        for i, leaf in enumerate(leaves):
            if leaf.requires_grad:
                out[f'{key}.d{i}'] = f32(leaf.grad)
    # Comparisons: special values against a broadcast row and against numbers.
    ca = with_values([3, 4], [NAN, INF, -INF, 0.0, -0.0, 1.0, 1.0, NAN], g)
    cb = torch.tensor([1.0, NAN, -INF, -0.0], dtype=torch.float64)
    out['cmp.a'], out['cmp.b'] = f32(ca), f32(cb)
    for op in COMPARISONS:
        out[f'cmp.{op}'] = f32(getattr(torch, op)(ca, cb).double())
        for j, s in enumerate(COMPARE_SCALARS):
            out[f'cmp.{op}.s{j}'] = f32(getattr(torch, op)(ca, s).double())
    meta = {
        'cases': json.dumps(CASES),
        'keys': __doc__.strip().replace('\n', ' '),
        'comparisons': json.dumps({'ops': COMPARISONS, 'scalars': [js_number(s) for s in COMPARE_SCALARS]}),
        'comparison_keys': 'cmp.a [3,4] (special values), cmp.b [4]; cmp.<op> = op(a, b) broadcast; '
                           'cmp.<op>.s<j> = op(a, scalars[j]); float 0/1',
    }
    return out, meta
