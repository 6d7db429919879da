"""The vectors the last full page-out read, kept in the data directory for the next one.

The embedded engine's Python binding hands each vector over as a list of Python floats (about 25 us a vector,
over half of a full page-out), so a full recluster reads a point from here when the point is unchanged: the
same id, and the same `vector_hash` in its payload, which ingest sets from the very vector it upserts. Any
other point (new, re-embedded, or stored without a hash) is fetched from the store, which stays the record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from embc.store.vectors import CollectionInfo

_MAGIC = b"embc-vector-cache-1"
_KEY = np.dtype("S32")  # a point's UUID (16 bytes) and its vector hash (16 bytes)


def keys(ids: Sequence[str], hashes: Sequence[str | None]) -> np.ndarray:
    """Cache keys of points; a point without a hash gets an empty key, which nothing matches."""
    return np.array([bytes.fromhex(i.replace("-", "") + h) if h else b"" for i, h in zip(ids, hashes)], _KEY)


class VectorCache:
    """`<folder>/<collection>.vectors`: the vectors (n x dim float32), then their keys, then a footer naming the
    collection's model, which must match for the file to be used."""

    def __init__(self, folder: Path, info: CollectionInfo):
        self.path = Path(folder) / f"{info.name}.vectors"
        self.meta = info.meta()
        self._sorted = np.empty(0, _KEY)
        self._rows = np.empty(0, np.int64)
        try:
            self._open()
        except (OSError, ValueError):
            pass  # no cache yet, or one this collection cannot use: every point comes from the store

    def _open(self) -> None:
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            f.seek(size - len(_MAGIC) - 8)
            length = int.from_bytes(f.read(8), "little")
            if f.read() != _MAGIC:
                raise ValueError("not a vector cache")
            f.seek(size - len(_MAGIC) - 8 - length)
            footer = json.loads(f.read(length))
        n, dim = footer["points"], self.meta["dim"]
        if footer["meta"] != self.meta or size != n * (dim * 4 + _KEY.itemsize) + length + 8 + len(_MAGIC):
            raise ValueError("a cache of other vectors")
        stored = np.fromfile(self.path, _KEY, n, offset=n * dim * 4)
        rows = np.flatnonzero(stored != b"")  # points stored without a hash are never found
        self._rows = rows[np.argsort(stored[rows], kind="stable")]
        self._sorted = stored[self._rows]

    def __len__(self) -> int:
        """How many points the cache can give."""
        return len(self._sorted)

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """The cache row of each key, -1 where the cache does not hold it."""
        if not len(self._sorted):
            return np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        return np.where((self._sorted[at] == wanted) & (wanted != b""), self._rows[at], -1)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The vectors at `rows`, read with one call per run of consecutive rows (a page-out reads them in the
        order they were written). Read, not memory-mapped: the file's pages would count as the job's memory."""
        dim = self.meta["dim"]
        out = np.empty((len(rows), dim), np.float32)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        starts = np.flatnonzero(np.diff(ordered, prepend=-2) != 1)
        with open(self.path, "rb") as f:
            for first, end in zip(starts, [*starts[1:], len(ordered)]):
                block = os.pread(f.fileno(), int(end - first) * dim * 4, int(ordered[first]) * dim * 4)
                out[order[first:end]] = np.frombuffer(block, np.float32).reshape(-1, dim)
        return out

    def start(self) -> BinaryIO:
        """The next cache's file, into which the page-out writes the vectors; `finish` makes it the cache."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open(self._next(), "w+b")

    def finish(self, file: BinaryIO, point_keys: np.ndarray) -> None:
        """Append the keys and the footer to the vectors written to `file`, and put it in place (unless no
        point has a hash: a collection ingested before embc stored them)."""
        if not (point_keys != b"").any():
            self.discard()
            return
        footer = json.dumps({"meta": self.meta, "points": len(point_keys)}).encode()
        file.seek(0, os.SEEK_END)
        file.write(np.ascontiguousarray(point_keys, _KEY).tobytes() + footer + len(footer).to_bytes(8, "little")
                   + _MAGIC)
        file.flush()
        os.replace(self._next(), self.path)

    def discard(self) -> None:
        Path(self._next()).unlink(missing_ok=True)

    def _next(self) -> str:
        return f"{self.path}.next"
