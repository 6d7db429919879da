"""Training a decoder: Adam on the squared error against the targets, the held-out tenth scored after each
epoch, and the weights of the epoch that scored best on it kept. An image decoder's later epochs also match
what the collection's model sees (`Perceived`): squared pixel error alone draws the blurred average of the
images a vector could come from, which the model itself does not recognise. The model sees the drawn images
in bf16 where the CPU multiplies it in hardware (1.4x faster to train through here): its features only guide
the gradients."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from embc.decode.pairs import Pairs
from embc.ingest.precision import bf16_in_hardware, computing

BATCH = 32
FEATURE_WEIGHT = 10.0  # the feature term's weight beside the pixels' squared error (about 0.01-0.03 by then)


@dataclass
class Epoch:
    """One epoch's mean loss on the training items and on the held-out ones (None when none are held out);
    `phase`: what the loss measured, pixels (an image's), features (an image's, and what the model sees in it)
    or values (a row's)."""

    epoch: int
    train_loss: float
    val_loss: float | None
    phase: str


@dataclass
class Perceived:
    """What the collection's model sees in images: `features(images)` with gradients, and what it saw in each
    item, its stored (unit-length) vector: the drawn image is to look like that to the model."""

    features: Callable[[torch.Tensor], torch.Tensor]
    targets: torch.Tensor
    precision: str

    @classmethod
    def of(cls, pairs: Pairs, features: Callable[[torch.Tensor], torch.Tensor]) -> Perceived:
        return cls(features, F.normalize(torch.from_numpy(pairs.vectors).float(), dim=1),
                   "bf16" if bf16_in_hardware() else "fp32")


def _target(targets: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    """Targets as the network draws them: images channels first in [0, 1], rows as they are."""
    batch = torch.from_numpy(np.ascontiguousarray(targets[rows]))
    if batch.dtype == torch.uint8:
        return batch.permute(0, 3, 1, 2).float().div_(255)
    return batch


def _loss(net: torch.nn.Module, pairs: Pairs, rows: np.ndarray, seen: Perceived | None) -> torch.Tensor:
    out = net(torch.from_numpy(pairs.vectors[rows]))
    loss = ((out - _target(pairs.targets, rows)) ** 2).mean()
    if seen is not None:
        with computing(seen.precision):
            features = seen.features(out)
        cosine = (F.normalize(features.float(), dim=1) * seen.targets[rows]).sum(dim=1)
        loss = loss + FEATURE_WEIGHT * (1 - cosine).mean()
    return loss


def _held_out_loss(net: torch.nn.Module, pairs: Pairs, rows: np.ndarray, seen: Perceived | None) -> float:
    net.eval()
    with torch.no_grad():
        return sum(float(_loss(net, pairs, rows[start:start + BATCH], seen)) * len(rows[start:start + BATCH])
                   for start in range(0, len(rows), BATCH)) / len(rows)


def fit(net: torch.nn.Module, pairs: Pairs, epochs: int, lr: float, seen: Perceived | None = None, first: int = 1,
        seed: int = 0, progress: Callable[[int, int], None] | None = None) -> list[Epoch]:
    """Train `net` for `epochs` (numbered from `first`) on the pairs outside the validation tenth, on pixels and,
    given `seen`, on features too; returns each epoch's losses, and leaves `net` with the weights of the
    epoch with the lowest validation loss."""
    torch.manual_seed(seed)
    held = pairs.validation
    train, val = np.flatnonzero(~held), np.flatnonzero(held)
    if not len(train):  # a handful of items, all in the held-out tenth: learn from them all
        train, val = val, val[:0]
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    generator = np.random.default_rng(seed)
    history, best, best_loss = [], None, np.inf
    for epoch in range(first, first + epochs):
        net.train()
        total = 0.0
        for batch in np.array_split(generator.permutation(train), max(1, len(train) // BATCH)):
            optimiser.zero_grad()
            loss = _loss(net, pairs, batch, seen)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        val_loss = _held_out_loss(net, pairs, val, seen) if len(val) else None
        phase = "features" if seen is not None else "pixels" if pairs.targets.dtype == np.uint8 else "values"
        history.append(Epoch(epoch, total / len(train), val_loss, phase))
        score = val_loss if val_loss is not None else history[-1].train_loss
        if score < best_loss:
            best, best_loss = copy.deepcopy(net.state_dict()), score
        if progress:
            progress(epoch - first + 1, epochs)
    net.load_state_dict(best)
    net.eval()
    return history
