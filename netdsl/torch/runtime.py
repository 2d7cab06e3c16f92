"""Modules that some ops lower to and PyTorch does not have (an op names them in its
`runtime` trait). Every top-level definition here is copied verbatim into the generated
files that use it, so a generated file still needs only torch: they may use nothing but
`torch`, `nn` and each other, and they are written as `ruff format` lays them out."""

import torch
from torch import nn

__all__ = ["LayerNorm2d", "LayerScale2d"]


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
