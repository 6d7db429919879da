"""The embedder protocol, and the embedder of precomputed vectors (which are only normalised)."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from embc.ingest.items import Item


class Embedder(Protocol):
    """Turns a batch of items into an L2-normalised float32 matrix of shape (n, dim). Image, word-vector and
    table embedders also have `prepare(item)`, which may run in worker threads ahead of `embed` (an image's
    decoding and resizing) and raises ItemError for an item it cannot embed. Embedders trained on the
    collection's own items (word2vec, the table models) also have `fit(items)`, which trains and saves them in
    their folder (`weights`)."""

    name: str
    dim: int
    modality: str
    weights: str | None
    precision: str  # fp32, or bf16 for neural models (see embc.ingest.precision)

    def embed(self, items: Sequence[Item]) -> np.ndarray: ...


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class PrecomputedEmbedder:
    """Vectors that users computed elsewhere: only checked and normalised."""

    modality = "vector"
    precision = "fp32"

    def __init__(self, dim: int):
        self.name = "precomputed"
        self.dim = dim
        self.weights = None

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        return normalise(np.stack([item.vector for item in items]))
