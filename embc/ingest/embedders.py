"""The embedder protocol and the registry that turns a model name into an embedder."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.items import Item

DEFAULT_MODEL = {"text": "minilm", "image": "effnet-lite0", "vector": "precomputed"}
TORCHVISION_MODELS = ("resnet50", "vgg16", "vgg19", "inception_v3")


class Embedder(Protocol):
    """Turns a batch of items into an L2-normalised float32 matrix of shape (n, dim). Image embedders also
    have `prepare(item)`, the decoding and resizing that may run in worker threads ahead of `embed`."""

    name: str
    dim: int
    modality: str
    weights: str | None

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
        self.weights = None

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        return normalise(np.stack([item.vector for item in items]))


def load_embedder(name: str, dim: int | None = None, weights: str | None = None) -> Embedder:
    """The embedder called `name`; `dim` is needed only for precomputed vectors, `weights` is a local
    weights file for image models (instead of the standard download)."""
    if name == "precomputed":
        if dim is None:
            raise EmbcError("precomputed vectors need a dimension")
        return PrecomputedEmbedder(dim)
    if name == "minilm" or name.startswith("sentence-transformers:"):
        from embc.ingest.text_models import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name)
    if name == "effnet-lite0":
        from embc.ingest.image_models import EfficientNetLite0

        return EfficientNetLite0(weights)
    if name in TORCHVISION_MODELS:
        from embc.ingest.image_models import torchvision_embedder

        return torchvision_embedder(name, weights)
    if name.startswith("clip:"):
        from embc.ingest.image_models import ClipEmbedder

        return ClipEmbedder(name, weights)
    raise EmbcError(f"unknown model '{name}': use minilm, sentence-transformers:NAME_OR_PATH, effnet-lite0, "
                    f"{', '.join(TORCHVISION_MODELS)} or clip:MODEL/PRETRAINED")


def accepts(model: str, kind: str) -> bool:
    """Whether a collection embedded with `model` takes items (or queries) of this kind."""
    if model.startswith("clip:"):
        return kind in ("image", "text")
    if model == "precomputed":
        return kind == "vector"
    return kind == ("image" if model == "effnet-lite0" or model in TORCHVISION_MODELS else "text")
