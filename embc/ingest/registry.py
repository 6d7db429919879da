"""The registry of models: which names embc knows, what each takes, and loading one by name."""

from __future__ import annotations

from pathlib import Path

from embc.errors import EmbcError, ParameterError
from embc.ingest.embedders import Embedder, PrecomputedEmbedder

DEFAULT_MODEL = {"text": "minilm", "image": "effnet-lite0", "vector": "precomputed", "row": "autoencoder"}
TORCHVISION_MODELS = ("resnet50", "vgg16", "vgg19", "inception_v3")
TABLE_MODELS = ("autoencoder", "tsne", "raw")
MODEL_CHOICES = (f"minilm, sentence-transformers:NAME_OR_PATH, word2vec, glove:PATH, effnet-lite0, "
                 f"{', '.join(TORCHVISION_MODELS)}, clip:MODEL/PRETRAINED, or for table rows {', '.join(TABLE_MODELS)}")


def check_model(name: str) -> str:
    """`name` if it names a model embc knows (loading it may still fail); ParameterError naming them if not."""
    if (name in ("minilm", "word2vec", "effnet-lite0", "precomputed") or name in TORCHVISION_MODELS
            or name in TABLE_MODELS or (name.startswith(("sentence-transformers:", "glove:", "clip:"))
                                        and len(name.split(":", 1)[1]) > 0)):
        return name
    raise ParameterError(f"unknown model {name!r}: use {MODEL_CHOICES}")


def load_embedder(name: str, dim: int | None = None, weights: str | None = None,
                  precision: str = "fp32") -> Embedder:
    """The embedder called `name`. `dim`: the vector size where it is a choice (precomputed vectors, the
    autoencoder's bottleneck). `weights`: a local weights file for image models (instead of the standard
    download), or the folder a trained model (word2vec, table models) is saved in. `precision`: what a neural
    model computes in (`embc.ingest.precision`); the others compute in fp32."""
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

        return SentenceTransformerEmbedder(name, precision=precision)
    if name == "effnet-lite0":
        from embc.ingest.image_models import EfficientNetLite0

        return EfficientNetLite0(weights, precision)
    if name in TORCHVISION_MODELS:
        from embc.ingest.image_models import torchvision_embedder

        return torchvision_embedder(name, weights, precision)
    if name.startswith("clip:"):
        from embc.ingest.image_models import ClipEmbedder

        return ClipEmbedder(name, weights, precision)
    raise ParameterError(f"unknown model {name!r}: use {MODEL_CHOICES}")


def neural(model: str) -> bool:
    """Whether the model is a neural network, which may compute in bf16."""
    return (model in ("minilm", "effnet-lite0") or model in TORCHVISION_MODELS
            or model.startswith(("sentence-transformers:", "clip:")))


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
