"""What a decoder learns from: each stored vector beside what its item was made from (the item's own pixels,
read again from its file, or its row's scaled features), and which of them are held out for validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from embc.errors import EmbcError
from embc.ingest.images import UnreadableImage, load_rgb
from embc.store.vectors import Store

SIZES = (16, 32, 64, 128)  # the sides of the images a decoder can draw: 4 doubled 2 to 5 times
MAX_ITEMS = 20_000  # a decoder learns from at most this many items (a repeatable sample), whatever the size
MIN_ITEMS = 10


def held_out(point_id: str) -> bool:
    """Whether a point is in the validation tenth: a fixed choice by its id, so that it stays held out as the
    collection grows and the decoder is trained again."""
    return int(point_id.replace("-", "")[-8:], 16) % 10 == 0


def _kept(point_id: str, share: float) -> bool:
    """The repeatable sample of a collection larger than MAX_ITEMS."""
    return int(point_id.replace("-", "")[:8], 16) < share * 0xFFFFFFFF


@dataclass
class Pairs:
    """Stored vectors and their targets (uint8 images n x size x size x 3, or float32 feature rows)."""

    ids: list[str]
    vectors: np.ndarray
    targets: np.ndarray
    skipped: int  # items whose target could not be read (an image file gone or unreadable, no row values)

    @property
    def validation(self) -> np.ndarray:
        return np.array([held_out(i) for i in self.ids], dtype=bool)


def pixels(path: str, size: int) -> np.ndarray:
    """The image at `path` as size x size x 3 uint8: the centre square, scaled."""
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.fit(load_rgb(path), (size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def image_pairs(store: Store, collection: str, size: int,
                progress: Callable[[int, int], None] | None = None) -> Pairs:
    """Every item's stored vector and its image, read again from the file it was ingested from."""
    return _pairs(store, collection, "path", lambda path: pixels(path, size), (size, size, 3), np.uint8, progress)


def row_pairs(store: Store, collection: str, features, progress: Callable[[int, int], None] | None = None) -> Pairs:
    """Every row's stored vector and its features scaled as the collection's model scales them."""
    pairs = _pairs(store, collection, "values", lambda values: values, None, object, progress)
    targets = features.transform(list(pairs.targets)) if len(pairs.ids) else np.empty((0, features.width))
    return Pairs(pairs.ids, pairs.vectors, np.asarray(targets, np.float32), pairs.skipped)


def _pairs(store: Store, collection: str, field: str, read: Callable, shape: tuple | None, dtype,
           progress: Callable[[int, int], None] | None) -> Pairs:
    total = store.count(collection)
    share = min(1.0, MAX_ITEMS / max(total, 1))
    ids, vectors, targets, skipped, done = [], [], [], 0, 0
    for page in store.pages(collection, keys=[field]):
        for point_id, vector, payload in zip(page.ids, page.vectors, page.payloads):
            if share < 1 and not _kept(point_id, share):
                continue
            try:
                targets.append(read(payload[field]))
            except (KeyError, UnreadableImage, OSError):
                skipped += 1
                continue
            ids.append(point_id)
            vectors.append(vector)
        done += len(page.ids)
        if progress:
            progress(done, total)
    if len(ids) < MIN_ITEMS:
        raise EmbcError(f"collection '{collection}' has {len(ids)} items with {'an image file' if shape else 'values'} "
                        f"to learn from ({skipped} unreadable): a decoder needs at least {MIN_ITEMS}")
    if shape is None:
        stacked = np.empty(len(targets), dtype=object)
        stacked[:] = targets
    else:
        stacked = np.stack(targets).astype(dtype)
    return Pairs(ids, np.stack(vectors).astype(np.float32), stacked, skipped)
