"""The decoder networks: a vector to an image (transposed convolutions) or to a row's features (an MLP)."""

from __future__ import annotations

import math

import torch
from torch import nn


class Scaled(nn.Module):
    """Stored vectors have unit length, so each of d components is about 1/sqrt(d) in size: scaled up to about
    1 the first layer starts where its initialisation expects."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * math.sqrt(x.shape[1])


WIDTH = 256  # channels of new decoders' first block: 128 (the width until 2026-11-30) drew tuxpaint-8 back into
# its clusters for 63.5% of held-out items, 256 for 78.8%, at 1.3x the training time (docs/decoders.md)


def image_decoder(dim: int, size: int, width: int) -> nn.Module:
    """A dim vector to a 3 x size x size image in [0, 1] (size: one of `pairs.SIZES`): a width x 4 x 4 block
    doubled until it is size wide, halving its channels at each step."""
    steps = int(math.log2(size // 4))
    channels = [width // 2 ** n for n in range(steps)] + [3]
    layers: list[nn.Module] = [Scaled(), nn.Linear(dim, channels[0] * 16), nn.ReLU(),
                               nn.Unflatten(1, (channels[0], 4, 4))]
    for n in range(steps):
        last = n == steps - 1
        layers.append(nn.ConvTranspose2d(channels[n], channels[n + 1], 4, stride=2, padding=1))
        layers.extend([nn.Sigmoid()] if last else [nn.BatchNorm2d(channels[n + 1]), nn.ReLU()])
    return nn.Sequential(*layers)


def row_decoder(dim: int, width: int) -> nn.Module:
    """A dim vector to a row's `width` scaled features (standardised numbers, one-hot categories)."""
    hidden = max(32, min(128, 4 * width))
    return nn.Sequential(Scaled(), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, width))
