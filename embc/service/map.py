"""The browser map's data: a run's 2-D map packed as typed arrays, and where its page and scripts live."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np

from embc.errors import EmbcError, NotFound
from embc.results import Entry

WEB = Path(__file__).resolve().parent / "web"


def map_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """n (uint32), x and y (float32 x n), cluster (int32 x n; -1 noise): what the page's script reads."""
    n = len(columns.get("x", ()))
    cluster = np.asarray(columns["cluster"], dtype=np.float64) if n else np.empty(0)
    return b"".join([np.uint32(n).astype("<u4").tobytes(),
                     np.asarray(columns["x"] if n else [], dtype="<f4").tobytes(),
                     np.asarray(columns["y"] if n else [], dtype="<f4").tobytes(),
                     np.where(np.isnan(cluster), -1, cluster).astype("<i4").tobytes()])


def id_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """The point ids as 16-byte UUIDs, in the map's order (sorted as their text is)."""
    return b"".join(uuid.UUID(str(pid)).bytes for pid in columns.get("point_id", ()))


def label_codes(point_ids, labels: dict[str, str]) -> dict:
    """Each point's label as an index into the sorted distinct labels (-1: none)."""
    names = sorted({v for v in labels.values() if v is not None})
    code = {name: n for n, name in enumerate(names)}
    return {"labels": names, "codes": [code.get(labels.get(str(pid)), -1) for pid in point_ids]}


def picture(entry: Entry, size: int) -> bytes:
    """The image an item was made from, as a PNG thumbnail: only from the path stored with the item."""
    from embc.ingest.images import UnreadableImage, load_rgb

    if not entry.path:
        raise NotFound(f"item '{entry.item}' has no image")
    try:
        image = load_rgb(entry.path)
    except (UnreadableImage, OSError) as exc:
        raise EmbcError(f"the image of item '{entry.item}' cannot be read: {exc}") from None
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
