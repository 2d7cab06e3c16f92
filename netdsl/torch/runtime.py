"""Modules that some ops lower to and PyTorch does not have (an op names them in its
`runtime` trait). Every top-level definition here is copied verbatim into the generated
files that use it, so a generated file still needs only torch: they may use nothing but
`torch`, `nn` and each other, and they are written as `ruff format` lays them out."""

import torch
from torch import nn

__all__ = ["DropPath", "LayerNorm2d", "LayerScale2d"]


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels at each position of an N x C x H x W tensor (ConvNeXt):
    the statistics of the C values of one pixel, a learned scale and shift per channel."""

    def forward(self, x):
        y = nn.functional.layer_norm(
            x.movedim(1, -1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.movedim(-1, 1)


class LayerScale2d(nn.Module):
    """A learned multiplier per channel, starting at `init` (ConvNeXt's layer scale)."""

    def __init__(self, channels, init=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels, 1, 1), float(init)))

    def forward(self, x):
        return x * self.weight


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, each sample's tensor is zeroed
    with probability `p` and the others are divided by 1 - p; the identity in eval. The
    draw uses the global random generator: seeding it (manual_seed) makes it reproducible."""

    def __init__(self, p=0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep) if keep > 0.0 else x * mask

    def extra_repr(self):
        return f"p={self.p}"
