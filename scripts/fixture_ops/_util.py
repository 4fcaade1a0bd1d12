"""Helpers shared by the op fixture modules of scripts/fixture_ops/."""

import math

import torch


def f32(t):
    """Stored form of a tensor: float32, contiguous, detached."""
    return t.detach().to(torch.float32).contiguous()


def rounded(shape, g, scale=1.0, dtype=torch.float64):
    """Random normal values rounded to float32 (so float64 math on them is the exact golden), as float64."""
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).float().to(dtype)


def with_values(shape, values, g, scale=2.0):
    """A float64 tensor of `shape` whose first elements are `values` (NaN, inf, ...), the rest random (float32-exact).
    """
    n = math.prod(shape)
    rest = torch.randn(n - len(values), generator=g, dtype=torch.float64) * scale
    return torch.cat([torch.tensor(values, dtype=torch.float64), rest]).to(torch.float32).double().reshape(shape)
