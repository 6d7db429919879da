"""The browser map's data: a run's 2-D map packed as typed arrays, and where its page and scripts live."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np

from embc.errors import EmbcError, NotFound
from embc.results import Entry

WEB = Path(__file__).resolve().parent / "web"


def map_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """n (uint32), x and y (float32 x n), cluster (int32 x n; -1 noise): what the page's script reads."""
    n = len(columns.get("x", ()))
    return b"".join([np.uint32(n).astype("<u4").tobytes(),
                     np.asarray(columns["x"] if n else [], dtype="<f4").tobytes(),
                     np.asarray(columns["y"] if n else [], dtype="<f4").tobytes(),
                     _clusters(columns).astype("<i4").tobytes()])


def _clusters(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Each map point's cluster; -1 where the run recorded none (noise)."""
    if not len(columns.get("x", ())):
        return np.empty(0, np.int64)
    return np.nan_to_num(np.asarray(columns["cluster"], float), nan=-1).astype(np.int64)


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


def thumbnail(columns: dict[str, np.ndarray], size: int) -> bytes:
    """The map as a small PNG, a pixel a point, in the page's colours (its palette file): for the list of
    collections."""
    from PIL import Image

    palette = json.loads((WEB / "static" / "palette.json").read_text())
    tints = np.array([_rgb(c) for c in palette["clusters"]] + [_rgb(palette["noise"])], np.uint8)
    pixels = np.full((size, size, 3), 255, np.uint8)
    x, y = np.asarray(columns.get("x", []), float), np.asarray(columns.get("y", []), float)
    if len(x):
        cluster = _clusters(columns)
        span = max(np.ptp(x), np.ptp(y)) or 1.0
        px = ((x - x.min() + (span - np.ptp(x)) / 2) / span * (size - 1)).round().astype(int)
        py = ((y - y.min() + (span - np.ptp(y)) / 2) / span * (size - 1)).round().astype(int)
        ids, each = np.unique(cluster, return_inverse=True)
        slots = colour_slots(ids.tolist(), len(tints) - 1)
        pixels[size - 1 - py, px] = tints[np.array([slots.get(i, len(tints) - 1) for i in ids.tolist()])[each]]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def colour_slots(ids: list[int], colours: int) -> dict[int, int]:
    """Which of `colours` colours each cluster of a run gets (noise none): its id's (the id modulo `colours`), or
    where a smaller id has that one, the next free one, so that ids grown over runs (1 and 21) do not share one
    while there are colours to go round. The map page chooses the same way (its `slotsOf`)."""
    slots: dict[int, int] = {}
    for cluster in sorted({i for i in ids if i >= 0}):
        slot = cluster % colours
        while len(slots) < colours and slot in slots.values():
            slot = (slot + 1) % colours
        slots[cluster] = slot
    return slots


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
