"""Items from Python objects handed to `Workspace.ingest`: texts, dicts, (key, vector) pairs and PIL images."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

from embc.arguments import is_image
from embc.errors import ParameterError
from embc.ingest.items import Item
from embc.ingest.sources import Fields, as_text, is_exported, read_row, vector_item
from embc.results import Skipped

SOURCE = "records"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _by_content(item: Item) -> Item:
    """The item keyed by what it holds: its text, its vector, or its row's values and label."""
    if item.kind == "text":
        return replace(item, key=f"text:{_digest(item.text.encode())}")
    if item.kind == "vector":
        return replace(item, key=f"vector:{_digest(item.vector.tobytes())}")
    row = json.dumps([item.values, item.label], sort_keys=True, default=str)
    return replace(item, key=f"row:{_digest(row.encode())}")


def check_records(source: object) -> None:
    """ParameterError unless `source`, given to ingest as records rather than paths, is an iterable of them."""
    if isinstance(source, (bytes, dict)) or not isinstance(source, Iterable):
        raise ParameterError(f"ingest takes a file or folder path, a list of paths, or an iterable of records, not "
                             f"{repr(source)[:60]}" + (" (put one record in a list)" * isinstance(source, dict)))


def record_items(records: Iterable, fields: Fields) -> Iterator[Item | Skipped]:
    """One item per record: a str is a text, a dict a row like a JSONL line (`text`, `label`, `id`, or `vector`
    for a precomputed one; every other field a feature when `fields.table`), a (key, vector) pair a precomputed
    vector, a PIL image an image. Anything else is skipped with its reason. A record without an id is keyed by
    its content: by its position, records sent in two calls (or a client's two batches) would share keys, and
    the second would replace the first."""
    for n, record in enumerate(records):
        where = f"{SOURCE}#{n}"
        if isinstance(record, str):
            text = record.strip()
            yield _by_content(Item(key=where, source=SOURCE, kind="text", text=text)) if text \
                else Skipped(where, "empty text")
        elif isinstance(record, dict):
            ident = record.get(fields.id or "id")
            made = read_row(record, SOURCE, where, fields)
            if isinstance(made, Item) and not is_exported(record, fields):
                made = _by_content(made) if ident in (None, "") else replace(made, key=as_text(ident))
            yield made
        elif isinstance(record, tuple) and len(record) == 2:
            yield vector_item(str(record[0]), SOURCE, record[1])
        elif is_image(record):
            digest = _digest(record.tobytes())
            yield Item(key=f"image:{digest}", source=SOURCE, kind="image", data_hash=digest, prepared=record)
        else:
            kind = type(record).__name__
            yield Skipped(where, f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} is not a text, a dict, a (key, vector) "
                                 "pair or an image")
