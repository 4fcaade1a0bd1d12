"""Creation functions (#16): PyTorch's values for arange (fractional and negative steps), linspace
(both ends, odd and even counts) and eye (square and rectangular).

Metadata 'cases' is a JSON list of {key, fn, args}: the tensor <key> is fn(*args) in PyTorch with
its default dtype (float32), except that arange of integer arguments (int64 in PyTorch) is stored
as int32, the dtype wgtorch gives it.
"""

import json

import torch

FILE = 'creation-golden'
SEED = 1616

CASES = [
    ['arangeEnd', 'arange', [5]],
    ['arangeStartEnd', 'arange', [-3, 4]],
    ['arangeDown', 'arange', [10, -2, -3]],
    ['arangeFrac', 'arange', [0, 1, 0.1]],
    ['arangeFracDown', 'arange', [1.5, -0.7, -0.3]],
    ['arangeFracEnd', 'arange', [2.5]],
    ['arangeThirds', 'arange', [-1, 1, 1 / 3]],
    ['linspace5', 'linspace', [-1, 1, 5]],
    ['linspaceOdd', 'linspace', [0.1, 0.7, 7]],
    ['linspaceEven', 'linspace', [-2.5, 3.3, 10]],
    ['linspaceOne', 'linspace', [3, 7, 1]],
    ['linspaceDown', 'linspace', [1, -1, 4]],
    ['eye3', 'eye', [3, 3]],
    ['eye2x4', 'eye', [2, 4]],
    ['eye4x2', 'eye', [4, 2]],
]


def make(g):
    del g  # nothing random
    out = {}
    for key, fn, args in CASES:
        if fn == 'arange':
            t = torch.arange(*args)
            if t.dtype == torch.int64:
                t = t.to(torch.int32)
        elif fn == 'linspace':
            t = torch.linspace(*args)
        else:
            t = torch.eye(*args)
        out[key] = t.contiguous()
    cases = [{'key': k, 'fn': f, 'args': a} for k, f, a in CASES]
    return out, {'cases': json.dumps(cases), 'torch': torch.__version__}
