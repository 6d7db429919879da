"""The embedder protocol and the registry that turns a model name into an embedder."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.items import Item

DEFAULT_MODEL = {"text": "minilm", "vector": "precomputed"}


class Embedder(Protocol):
    """Turns a batch of items into an L2-normalised float32 matrix of shape (n, dim)."""

    name: str
    dim: int
    modality: str

    def embed(self, items: Sequence[Item]) -> np.ndarray: ...


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


class PrecomputedEmbedder:
    """Vectors that users computed elsewhere: only checked and normalised."""

    modality = "vector"

    def __init__(self, dim: int):
        self.name = "precomputed"
        self.dim = dim

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        return normalise(np.stack([item.vector for item in items]))


def load_embedder(name: str, dim: int | None = None) -> Embedder:
    """The embedder called `name`; `dim` is needed only for precomputed vectors."""
    if name == "precomputed":
        if dim is None:
            raise EmbcError("precomputed vectors need a dimension")
        return PrecomputedEmbedder(dim)
    if name == "minilm" or name.startswith("sentence-transformers:"):
        from embc.ingest.text_models import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name)
    raise EmbcError(f"unknown model '{name}': use minilm or sentence-transformers:NAME_OR_PATH")
