"""Items from Python objects handed to `Workspace.ingest`: texts, dicts, (key, vector) pairs and PIL images."""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

from embc.ingest.items import Item
from embc.ingest.sources import Fields, row_item, table_row, vector_item
from embc.results import Skipped

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
            label = record.get("label")
            yield vector_item(str(record.get(fields.id or "id", where)), SOURCE, record["vector"],
                              None if label is None else str(label))
        elif isinstance(record, dict):
            yield (table_row if fields.table else row_item)(record, SOURCE, where, fields)
        elif isinstance(record, tuple) and len(record) == 2:
            yield vector_item(str(record[0]), SOURCE, record[1])
        elif hasattr(record, "getpixel") and hasattr(record, "tobytes"):  # a PIL image
            digest = _digest(record.tobytes())
            yield Item(key=f"image:{digest}", source=SOURCE, kind="image", data_hash=digest, prepared=record)
        else:
            yield Skipped(where, f"a {type(record).__name__} is not a text, a dict, a (key, vector) pair or an image")
