"""Items from Python objects handed to `Workspace.ingest`: texts, dicts, (key, vector) pairs and PIL images."""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

import numpy as np

from embc.ingest.items import Item
from embc.results import Skipped
from embc.ingest.sources import Fields, row_item, table_row, vector_item

SOURCE = "records"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def record_items(records: Iterable, fields: Fields) -> Iterator[Item | Skipped]:
    """One item per record: a str is a text (its key derives from it), a dict a row like a JSONL line (`text`,
    `label`, `id`, or `vector` for a precomputed one; every other field a feature when `fields.table`), a
    (key, vector) pair a precomputed vector, a PIL image an image. Anything else is skipped with its reason."""
    for n, record in enumerate(records):
        where = f"{SOURCE}#{n}"
        if isinstance(record, str):
            text = record.strip()
            yield (Item(key=f"text:{_digest(text.encode())}", source=SOURCE, kind="text", text=text) if text
                   else Skipped(where, "empty text"))
        elif isinstance(record, dict) and "vector" in record and not fields.table:
            yield _vector(str(record.get(fields.id or "id", where)), record["vector"], where, record.get("label"))
        elif isinstance(record, dict):
            yield (table_row if fields.table else row_item)(record, SOURCE, where, fields)
        elif isinstance(record, tuple) and len(record) == 2:
            yield _vector(str(record[0]), record[1], where)
        elif hasattr(record, "getpixel") and hasattr(record, "tobytes"):  # a PIL image
            digest = _digest(record.tobytes())
            yield Item(key=f"image:{digest}", source=SOURCE, kind="image", data_hash=digest, prepared=record)
        else:
            yield Skipped(where, f"a {type(record).__name__} is not a text, a dict, a (key, vector) pair or an image")


def _vector(key: str, values, where: str, label=None) -> Item | Skipped:
    try:
        vector = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        return Skipped(where, "the vector is not a list of numbers")
    if vector.ndim != 1 or not len(vector):
        return Skipped(where, "the vector is not a list of numbers")
    return vector_item(key, SOURCE, vector, None if label is None else str(label))
