"""Texts embedded without torch: sentence-transformers models in fp32 run on OpenVINO, items and queries alike.

`embc similar --text` took 8.5 s here, 6-7 s of it importing sentence-transformers and torch, and so did the model's
part of every `embc ingest`. An fp32 collection of a sentence-transformers model kept in a local folder, whose
modules are a text transformer, mean or CLS pooling and optionally normalisation (MiniLM's, and most others'),
embeds its items and queries with that transformer on OpenVINO in fp32, the texts split by `tokenizers` and pooled
in numpy: `embc similar --text` takes 1.3 s, and every vector lies within 2.7e-7 of the torch model's on MiniLM
(torch's own vectors move by up to 1.8e-7 with the batch a text is in). In batches of 16 texts of similar length
it embedded the WordNet sample in 0.89x of torch's time and long fortunes in 0.72-0.85x (2 cores of an Intel Xeon),
and `embc ingest` of 5 more texts into the WordNet sample's collection took 1.0 s instead of 7.9 s (338 MB against
1.14 GB); the first ingest into a new data directory, which converts the model, 15.2 s instead of 12.5 s.
The transformer is converted from the torch model the first time a process needs it (3-4 s, once) and kept in the
data directory's `openvino/`, under a digest of the model folder's files and the OpenVINO version. Models of other
shapes or named on a hub, and collections made in bf16, run on their own engine as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from embc.ingest.embedders import normalise
from embc.ingest.openvino_kept import compiled_kept, files_digest, kept_in, save
from embc.ingest.items import Item

STEPS = ("Transformer", "Pooling")  # the modules a model must start with; Normalize may follow
POOLING = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
OUTPUT = "last_hidden_state"
BATCH = 16  # texts per call: 0.89x of torch's time on the WordNet sample, where 64 took 0.97x


@dataclass(frozen=True)
class Plan:
    """What embedding with a model without torch takes, read from its folder."""

    folder: Path  # the transformer's folder: its tokenizer.json
    pooling: str  # mean or cls
    max_length: int
    lower_case: bool


def plan(root: Path) -> Plan | None:
    """How a model folder's texts are embedded without torch; None for one of another shape."""
    try:
        modules = json.loads((root / "modules.json").read_text())
        kinds = [m["type"].rpartition(".")[2] for m in modules]
        if kinds[:2] != list(STEPS) or kinds[2:] not in ([], ["Normalize"]):
            return None
        folder = root / modules[0]["path"]
        pooled = json.loads((root / modules[1]["path"] / "config.json").read_text())
        modes = [mode for key, mode in POOLING.items() if pooled.get(key)]
        others = [key for key, on in pooled.items() if key.startswith("pooling_mode_") and on and key not in POOLING]
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        positions = int(json.loads((folder / "config.json").read_text()).get("max_position_embeddings") or 512)
        max_length = min(int(config.get("max_seq_length") or positions), positions)
        settings = root / "config_sentence_transformers.json"
        prompted = settings.exists() and json.loads(settings.read_text()).get("default_prompt_name")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    if len(modes) != 1 or others or prompted or not (folder / "tokenizer.json").is_file():
        return None
    return Plan(folder, modes[0], max_length, bool(config.get("do_lower_case")))


class TextWithoutTorch:
    """A sentence-transformers model's `embed`, its transformer on OpenVINO (see the module's docstring)."""

    modality = "text"
    weights = None
    precision = "fp32"

    def __init__(self, name: str, plan: Plan, compiled: Any):
        from tokenizers import Tokenizer

        self.name, self.plan, self.compiled = name, plan, compiled
        self.tokenizer = Tokenizer.from_file(str(plan.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(plan.max_length)
        self.tokenizer.enable_padding()
        self.inputs = {port.get_any_name() for port in self.compiled.inputs}
        self.output = self.compiled.output(OUTPUT)
        self.dim = int(self.output.get_partial_shape()[2].get_length())

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        texts = [item.text or "" for item in items]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # batches of similar length
        vectors = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), BATCH):
            part = order[start:start + BATCH]
            vectors[part] = self._batch([texts[i] for i in part])
        return vectors

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch([t.lower() for t in texts] if self.plan.lower_case else texts)
        feeds = {"input_ids": [e.ids for e in encoded], "attention_mask": [e.attention_mask for e in encoded],
                 "token_type_ids": [e.type_ids for e in encoded]}
        request = self.compiled.create_infer_request()  # one per call: ingests run beside queries
        hidden = request.infer({name: np.array(feeds[name], np.int64) for name in self.inputs})[self.output]
        if self.plan.pooling == "cls":
            return normalise(hidden[:, 0])
        mask = np.array(feeds["attention_mask"], np.float32)[:, :, None]
        return normalise((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))


def _kept_as(model: str) -> tuple[Plan, str, Path] | None:
    """The model's plan, the name its converted transformer is kept under and its folder; None for a model of
    another shape or named on a hub."""
    from embc.ingest.text_models import model_folder

    root = model_folder(model)
    found = None if root is None else plan(root)
    if found is None:
        return None
    return found, files_digest("text", (p for p in root.rglob("*") if p.is_file()), root), root


def is_kept(model: str, cache: Path) -> bool:
    """Whether the model's converted transformer is kept in `cache` (its embedder then loads without torch)."""
    found = _kept_as(model)
    return found is not None and kept_in(cache, found[1])


def kept(model: str, cache: Path) -> TextWithoutTorch | None:
    """The model's embedder without torch if its converted transformer is kept in `cache`; None if not."""
    found = _kept_as(model)
    return None if found is None else _ready(model, *found[:2], cache)


def keep(embedder: Any, cache: Path) -> TextWithoutTorch | None:
    """Convert a loaded sentence-transformers embedder's transformer and keep it in `cache`: the embedder without
    torch it makes, or None for a model of another shape."""
    from embc.ingest.openvino_text import transformer_converted

    found = _kept_as(embedder.name)
    if found is None:
        return None
    found_plan, name, root = found
    save(transformer_converted(embedder.model), cache, name, source=str(root.resolve()))
    return _ready(embedder.name, found_plan, name, cache)


def _ready(model: str, plan: Plan, name: str, cache: Path) -> TextWithoutTorch | None:
    """The embedder of the transformer kept in `cache` as `name`; None if none is."""
    compiled = compiled_kept(cache, name)
    return None if compiled is None else TextWithoutTorch(model, plan, compiled)
