"""The embedder protocol and the registry that turns a model name into an embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from embc.errors import EmbcError, ParameterError
from embc.ingest.items import Item

DEFAULT_MODEL = {"text": "minilm", "image": "effnet-lite0", "vector": "precomputed", "row": "autoencoder"}
TORCHVISION_MODELS = ("resnet50", "vgg16", "vgg19", "inception_v3")
TABLE_MODELS = ("autoencoder", "tsne", "raw")
MODEL_CHOICES = (f"minilm, sentence-transformers:NAME_OR_PATH, word2vec, glove:PATH, effnet-lite0, "
                 f"{', '.join(TORCHVISION_MODELS)}, clip:MODEL/PRETRAINED, or for table rows {', '.join(TABLE_MODELS)}")


class Embedder(Protocol):
    """Turns a batch of items into an L2-normalised float32 matrix of shape (n, dim). Image embedders also
    have `prepare(item)`, the decoding and resizing that may run in worker threads ahead of `embed`.
    Embedders trained on the collection's own items (word2vec, the table models) also have `trained` and
    `fit(items)`, which trains and saves them in their folder (`weights`)."""

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


def check_model(name: str) -> str:
    """`name` if it names a model embc knows (loading it may still fail); ParameterError naming them if not."""
    if (name in ("minilm", "word2vec", "effnet-lite0", "precomputed") or name in TORCHVISION_MODELS
            or name in TABLE_MODELS or (name.startswith(("sentence-transformers:", "glove:", "clip:"))
                                        and len(name.split(":", 1)[1]) > 0)):
        return name
    raise ParameterError(f"unknown model {name!r}: use {MODEL_CHOICES}")


def load_embedder(name: str, dim: int | None = None, weights: str | None = None) -> Embedder:
    """The embedder called `name`. `dim`: the vector size where it is a choice (precomputed vectors, the
    autoencoder's bottleneck). `weights`: a local weights file for image models (instead of the standard
    download), or the folder a trained model (word2vec, table models) is saved in."""
    if learns(name) and weights is None:
        raise EmbcError(f"model '{name}' needs a folder to keep what it learns")
    if name in TABLE_MODELS:
        from embc.ingest.table_models import BOTTLENECK, TableEmbedder

        return TableEmbedder(name, Path(weights), dim or BOTTLENECK)
    if name == "word2vec" or name.startswith("glove:"):
        from embc.ingest.word_models import WordVectorEmbedder

        return WordVectorEmbedder(name, weights)
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
    raise ParameterError(f"unknown model {name!r}: use {MODEL_CHOICES}")


def learns(model: str) -> bool:
    """Whether the model is trained on the collection's own items (and kept in a folder of the data dir)."""
    return model == "word2vec" or model in TABLE_MODELS


def accepts(model: str, kind: str) -> bool:
    """Whether a collection embedded with `model` takes items (or queries) of this kind."""
    if model.startswith("clip:"):
        return kind in ("image", "text")
    if model == "precomputed":
        return kind == "vector"
    if model in TABLE_MODELS:
        return kind == "row"
    return kind == ("image" if model == "effnet-lite0" or model in TORCHVISION_MODELS else "text")
