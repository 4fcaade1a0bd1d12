"""Grouped and dilated conv2d and max pooling in PyTorch (float64 math on float32-exact inputs): forward values,
and the input, weight and bias gradients for a fixed cotangent. Keys are described in the metadata ('keys')."""

import json

import torch
import torch.nn.functional as F

from ._util import f32, rounded, with_values

FILE = 'conv-golden'
SEED = 1616

# name: (input shape, weight shape, bias?, F.conv2d keyword arguments)
CONV = {
    'depthwise_s1': ([2, 4, 6, 6], [4, 1, 3, 3], True, {'padding': 1, 'groups': 4}),
    'depthwise_s2': ([2, 4, 7, 7], [4, 1, 3, 3], False, {'stride': 2, 'padding': 1, 'groups': 4}),
    'multiplier': ([1, 3, 5, 6], [6, 1, 3, 3], True, {'padding': 1, 'groups': 3}),
    'groups_dilated': ([2, 4, 9, 8], [6, 2, 3, 2], True, {'stride': [2, 1], 'padding': [2, 1], 'dilation': [2, 3],
                                                          'groups': 2}),
    'dilated': ([1, 2, 7, 7], [3, 2, 3, 3], False, {'padding': 2, 'dilation': 2}),
}

# name: (input shape, F.max_pool2d keyword arguments); the input starts with NaN, ties and infinities.
POOL = {
    'k2': ([2, 3, 6, 6], {'kernel_size': 2}),
    'k3s2p1': ([1, 2, 7, 9], {'kernel_size': 3, 'stride': 2, 'padding': 1}),
    'dilated_ceil': ([1, 2, 8, 7], {'kernel_size': [2, 3], 'stride': [2, 1], 'padding': [1, 1], 'dilation': [2, 2],
                                    'ceil_mode': True}),
}
SPECIAL = [float('nan'), 1.0, 1.0, 1.0, float('-inf'), float('inf'), 0.5, float('nan'), 2.0, 2.0]


def make(g):
    out, conv_meta, pool_meta = {}, {}, {}
    for name, (xs, ws, has_bias, kw) in CONV.items():
        x = rounded(xs, g).requires_grad_()
        w = rounded(ws, g, 0.5).requires_grad_()
        b = rounded([ws[0]], g).requires_grad_() if has_bias else None
        y = F.conv2d(x, w, b, **kw)
        dy = rounded(list(y.shape), g)
        y.backward(dy)
        out.update({f'{name}.x': f32(x), f'{name}.w': f32(w), f'{name}.y': f32(y), f'{name}.dy': f32(dy),
                    f'{name}.dx': f32(x.grad), f'{name}.dw': f32(w.grad)})
        if has_bias:
            out.update({f'{name}.b': f32(b), f'{name}.db': f32(b.grad)})
        conv_meta[name] = kw
    for name, (xs, kw) in POOL.items():
        x = with_values(xs, SPECIAL, g).requires_grad_()
        y, idx = F.max_pool2d(x, return_indices=True, **kw)
        dy = rounded(list(y.shape), g)
        y.backward(dy)
        out.update({f'{name}.x': f32(x), f'{name}.y': f32(y), f'{name}.indices': idx.to(torch.int32),
                    f'{name}.dy': f32(dy), f'{name}.dx': f32(x.grad)})
        pool_meta[name] = kw
    keys = ('conv case C: C.x, C.w, C.b (when the case has a bias), C.dy (the cotangent), C.y, and the gradients '
            'C.dx, C.dw, C.db; pool case P: P.x (NaN, ties and infinities first), P.y, P.indices (int32 into H*W), '
            'P.dy, P.dx. Options as F.conv2d / F.max_pool2d keyword arguments in conv and pool.')
    return out, {'conv': json.dumps(conv_meta), 'pool': json.dumps(pool_meta), 'keys': keys}
