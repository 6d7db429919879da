"""The registry of models: which names embc knows, what each takes, and loading one by name."""

from __future__ import annotations

from pathlib import Path

from embc.errors import EmbcError, ParameterError
from embc.ingest.embedders import Embedder, PrecomputedEmbedder
from embc.ingest.precision import OPENVINO, default_precision

DEFAULT_MODEL = {"text": "minilm", "image": "effnet-lite0", "vector": "precomputed", "row": "autoencoder"}
TORCHVISION_MODELS = ("resnet50", "vgg16", "vgg19", "inception_v3")
TABLE_MODELS = ("autoencoder", "tsne", "raw")
MODEL_CHOICES = (f"minilm, sentence-transformers:NAME_OR_PATH, word2vec, glove:PATH, effnet-lite0, "
                 f"{', '.join(TORCHVISION_MODELS)}, clip:MODEL/PRETRAINED, or for table rows {', '.join(TABLE_MODELS)}")


def family(name: str) -> str | None:
    """The family of the model `name` names, the one place that reads model names: sentence (MiniLM, any
    sentence-transformers model), words (word2vec, GloVe), cnn (EfficientNet-Lite0, the torchvision CNNs),
    clip, table (models trained on a table's rows) or precomputed; None for a name embc does not know."""
    def prefixed(prefix: str) -> bool:
        return name.startswith(prefix) and len(name) > len(prefix)

    if name == "minilm" or prefixed("sentence-transformers:"):
        return "sentence"
    if name == "word2vec" or prefixed("glove:"):
        return "words"
    if name == "effnet-lite0" or name in TORCHVISION_MODELS:
        return "cnn"
    if prefixed("clip:"):
        return "clip"
    if name in TABLE_MODELS:
        return "table"
    return "precomputed" if name == "precomputed" else None


def check_model(name: str) -> str:
    """`name` if it names a model embc knows (loading it may still fail); ParameterError naming them if not."""
    if not isinstance(name, str) or family(name) is None:
        raise ParameterError(f"unknown model {name!r}: use {MODEL_CHOICES}")
    return name


def names_a_path(name: str) -> bool:
    """Whether the model `name` is read from a file or folder its name gives: glove:PATH, and a
    sentence-transformers model or CLIP's pretrained weights given as a path (not a model hub's name)."""
    kind = family(name)
    if kind == "words":
        return name != "word2vec"
    if kind not in ("sentence", "clip") or name == "minilm":
        return False
    given = name.split(":", 1)[1]
    if kind == "clip":
        given = given.partition("/")[2]
    return given.startswith(("/", ".", "~")) or (bool(given) and Path(given).expanduser().exists())


def load_embedder(name: str, dim: int | None = None, weights: str | None = None,
                  precision: str = "fp32", cache: Path | None = None) -> Embedder:
    """The embedder called `name`. `dim`: the vector size where it is a choice (precomputed vectors, the
    autoencoder's bottleneck). `weights`: a local weights file for image models (instead of the standard
    download), or the folder a trained model (word2vec, table models) is saved in. `precision`: what a neural
    model computes in (`embc.ingest.precision`); the others compute in fp32. `cache`: where models converted for
    another engine (OpenVINO) are kept, to be read back the next time."""
    kind = family(check_model(name))
    if learns(name) and weights is None:
        raise EmbcError(f"model '{name}' needs a folder to keep what it learns")
    if kind == "table":
        from embc.ingest.table_models import BOTTLENECK, TableEmbedder

        return TableEmbedder(name, Path(weights), dim or BOTTLENECK)
    if kind == "words":
        from embc.ingest.word_models import WordVectorEmbedder

        return WordVectorEmbedder(name, weights)
    if kind == "precomputed":
        if dim is None:
            raise EmbcError("precomputed vectors need a dimension")
        return PrecomputedEmbedder(dim)
    if kind == "sentence":
        from embc.ingest.text_models import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name, precision=precision, cache=cache)
    if kind == "clip":
        from embc.ingest.image_models import ClipEmbedder

        return ClipEmbedder(name, weights, precision)
    if name == "effnet-lite0":
        from embc.ingest.image_models import EfficientNetLite0

        return EfficientNetLite0(weights, precision)
    from embc.ingest.image_models import torchvision_embedder

    return torchvision_embedder(name, weights, precision)


def new_precision(model: str) -> str:
    """What a new collection of `model` computes in: fp32, or with EMBC_PRECISION=bf16, bf16 for neural
    models, on OpenVINO for sentence-transformers models."""
    if not neural(model) or default_precision() == "fp32":
        return "fp32"
    return OPENVINO if family(model) == "sentence" else "bf16"


def neural(model: str) -> bool:
    """Whether the model is a neural network, which may compute in bf16."""
    return family(model) in ("sentence", "cnn", "clip")


def learns(model: str) -> bool:
    """Whether the model is trained on the collection's own items (and kept in a folder of the data dir)."""
    return model == "word2vec" or family(model) == "table"


def accepts(model: str, kind: str) -> bool:
    """Whether a collection embedded with `model` takes items (or queries) of this kind."""
    takes = {"clip": ("image", "text"), "precomputed": ("vector",), "table": ("row",), "cnn": ("image",)}
    return kind in takes.get(family(model), ("text",))
