"""The values that flow from sources into the ingest pipeline."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from embc.environment import setting


# Fixed namespace so that the same item key always maps to the same point id, on every machine.
_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4a43-9b7e-2f5d0c9e7a11")

NON_FINITE = "the vector has non-finite values (NaN or infinity, or beyond float32's range of 3.4e38)"


@dataclass
class Item:
    """One thing to embed and store: a file, a row, or a precomputed vector."""

    key: str  # stable identity: "notes/a.txt", "data.jsonl#12", or the --id-field value
    source: str
    kind: str  # text, image, row, vector
    text: str | None = None
    path: str | None = None
    label: str | None = None
    vector: np.ndarray | None = None
    values: dict | None = None  # a table row's feature columns (None where a value is missing)
    data_hash: str | None = None  # digest of a file's bytes, for items stored by path
    prepared: Any = None  # model input made ahead of embedding (a decoded image), never stored
    tags: dict = field(default_factory=dict)  # facts the embedder found (an ImageNet class), stored in the payload
    root: str | None = None  # the folder the user named, for items found under one (`ingest --prune` looks there)

    @property
    def point_id(self) -> str:
        return point_id(self.key)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for part in (self.text, self.path, self.label, self.data_hash):
            h.update(b"\0" if part is None else part.encode("utf-8") + b"\1")
        if self.vector is not None:
            h.update(np.ascontiguousarray(self.vector, dtype=np.float32).tobytes())
        if self.values is not None:
            h.update(json.dumps(_to_12_digits(self.values), sort_keys=True, default=str).encode("utf-8"))
        return h.hexdigest()

    def payload(self) -> dict:
        body: dict = {"item": self.key, "source": self.source, "kind": self.kind,
                      "content_hash": self.content_hash}
        if self.text is not None:
            body["text"] = self.text
        if self.path is not None:
            body["path"] = self.path
        if self.label is not None:
            body["label"] = self.label
        if self.values is not None:
            body["values"] = self.values
        if self.root is not None:
            body["root"] = self.root
        return {**body, **self.tags}


def _to_12_digits(value: object) -> object:
    """`value` with each float in it rounded to 12 significant digits. The embedded engine reads a payload's float
    back from its decimal text only to within a unit in the last place (11-18% of floats of 16-17 digits come back
    changed), so a table row read back from the store (an export) must hash as the row that was stored."""
    return map_floats(value, lambda x: float(f"{x:.12g}"))


def map_floats(value: object, change: Callable[[float], object]) -> object:
    """`value` with `change` made to each float in it, in its lists and dicts too."""
    if isinstance(value, float):
        return change(value)
    if isinstance(value, list):
        return [map_floats(v, change) for v in value]
    if isinstance(value, dict):
        return {k: map_floats(v, change) for k, v in value.items()}
    return value


class ItemError(Exception):
    """An item that cannot be embedded (an unreadable image, a text with no known word): it is skipped."""


def point_id(key: str) -> str:
    """The UUID of the point that stores the item with this key."""
    return str(uuid.uuid5(_NAMESPACE, key))


NOT_NUMBERS = (bool, np.bool_, str, bytes, np.str_, np.bytes_)  # which numpy would turn into numbers


def as_vector(values) -> np.ndarray:
    """`values` as float32 (TypeError or ValueError where they are not numbers, true and false and numbers written
    as text among them, which numpy would take as 1, 0 and the number). A number beyond float32's range becomes
    infinity, which `vector_problem` names, instead of a numpy overflow warning on stderr."""
    if isinstance(values, np.ndarray):
        kinds = {values.dtype.type}
    else:
        kinds = set(map(type, values)) if isinstance(values, (list, tuple)) else {type(values)}
    if any(issubclass(kind, NOT_NUMBERS) for kind in kinds):
        raise TypeError("not numbers")
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32)


def vector_problem(vector: np.ndarray) -> str | None:
    """Why a vector cannot be stored, if it cannot: a non-finite value (NaN or infinity, as a number beyond
    float32's range becomes), or no direction (all zeros), which cosine similarity cannot compare."""
    if not np.isfinite(vector).all():
        return NON_FINITE
    if not np.any(vector):
        return "the vector is all zeros: it has no direction to compare"
    return None


def max_text() -> int:
    """The most characters of a text that are embedded and stored (EMBC_MAX_TEXT_CHARS, default 20,000): models
    read far fewer (MiniLM: 256 tokens), and a 10 MB one-line file would otherwise cost minutes and gigabytes."""
    return int(setting("EMBC_MAX_TEXT_CHARS"))


def cap_text(item: Item, limit: int) -> Item:
    """The item with its text cut to `limit` characters, its full length recorded (`text_length`) and its
    content hash still that of the whole text, so that a change past the cut is still a change."""
    if item.text is not None and len(item.text) > limit:
        item.data_hash = hashlib.sha256(item.text.encode("utf-8", "surrogatepass")).hexdigest()
        item.tags["text_length"] = len(item.text)
        item.text = item.text[:limit]
    return item
