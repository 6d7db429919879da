"""Every vector embc has stored, kept beside the store in the data directory, so that a page-out need not
fetch it back.

The embedded engine's Python binding hands each vector over as a list of Python floats (about 25 us a vector,
most of a page-out), so ingest appends each vector it upserts here, keyed by the point's id and the vector's
own digest (`vector_hash`, which it also puts in the point's payload). A page-out reads a point's vector from
here when the point's payload still carries that digest, and fetches every other point (written by another
client, or by an ingest that could not write here) from the store, which stays the record, appending it here
for the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence

import numpy as np

from embc.store.locking import exclusive
from embc.store.vectors import CollectionInfo

HASH_KEY = "vector_hash"  # the payload field that says which vector a point was upserted with
_MAGIC = b"embc-vector-cache-3\n"  # 3: each record carries a checksum of its vector
_KEY = np.dtype("S32")  # a point's UUID (16 bytes) and its vector's digest (16 bytes)
_READ = 8 << 20  # bytes per read


def vector_hash(vector: np.ndarray) -> str:
    """A digest of the vector a point is upserted with: a full recluster's vector cache trusts a cached vector
    only while the point's payload carries the same one."""
    return hashlib.blake2b(np.ascontiguousarray(vector, np.float32).tobytes(), digest_size=16).hexdigest()


def checksums(vectors: np.ndarray) -> np.ndarray:
    """A CRC-32 of each vector's bytes: a record whose vector no longer matches it is not trusted."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    return np.fromiter((zlib.crc32(row) for row in rows), np.uint32, len(rows))


def keys(ids: Sequence[str], hashes: Sequence[str | None]) -> np.ndarray:
    """Cache keys of points; a point without a hash gets an empty key, which nothing matches."""
    return np.array([bytes.fromhex(i.replace("-", "") + h) if h else b"" for i, h in zip(ids, hashes)], _KEY)


class VectorCache:
    """`<folder>/<collection>.vectors`: a header naming the collection's model (a cache made for another one
    is started afresh), then (key, vector) records in the order they were appended. Appends take the lock
    file beside it and first cut any part-written record that a killed process left at the end.

    A page-out `load`s the keys, `find`s its points, `append`s the ones it fetched, `read`s the matrix by row,
    and when the records no point uses outnumber the rest, `compact`s the file to the points it read."""

    def __init__(self, folder: Path, info: CollectionInfo):
        self.folder = Path(folder)
        self.path: Path | None = self.folder / f"{info.name}.vectors"
        self.meta = info.meta()
        self.record = np.dtype([("key", _KEY), ("check", "<u4"), ("vector", "<f4", (info.dim,))])
        header = json.dumps(self.meta, sort_keys=True).encode()
        self.header = _MAGIC + len(header).to_bytes(8, "little") + header
        self._file: BinaryIO | None = None
        self._loaded = 0  # records present when the keys were loaded
        self._sorted = np.empty(0, _KEY)
        self._rows = np.empty(0, np.int64)

    @classmethod
    def scratch(cls, folder: Path, info: CollectionInfo) -> VectorCache:
        """A private, empty cache in a temporary file in `folder`, gone once closed: a page-out's spill file."""
        cache = cls(folder, info)
        cache.path = None
        cache.folder.mkdir(parents=True, exist_ok=True)
        cache._file = tempfile.TemporaryFile(dir=folder)
        cache._file.write(cache.header)
        cache._file.flush()
        return cache

    def __enter__(self) -> VectorCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with exclusive(Path(f"{self.path}.lock"), f"the vector cache of '{self.path.stem}'"):
            yield

    def _handle(self) -> BinaryIO:
        """The open file, opened (or started afresh, when missing or made for other vectors) on first use. A
        cache keeps its file open, so that what it appends and what it reads are in the same file."""
        if self._file is None:
            with self._locked():
                try:
                    self._file = open(self.path, "r+b")
                    if self._file.read(len(self.header)) != self.header:
                        self.close()
                except FileNotFoundError:
                    pass
                if self._file is None:
                    self._file = self._replace()
        return self._file

    def _replace(self, blocks: Iterable[bytes] = ()) -> BinaryIO:
        """Put a new file in place (the header, then `blocks` of records) and return it open; call under the
        lock."""
        with open(f"{self.path}.next", "wb") as new:
            new.write(self.header)
            for block in blocks:
                new.write(block)
        os.replace(f"{self.path}.next", self.path)
        file = open(self.path, "r+b")
        file.seek(len(self.header))
        return file

    @property
    def _per_read(self) -> int:
        """Records per read of a few MB."""
        return max(1, _READ // self.record.itemsize)

    def _count(self) -> int:
        """Whole records in the file (a killed writer can leave part of one at the end)."""
        return (os.fstat(self._handle().fileno()).st_size - len(self.header)) // self.record.itemsize

    def load(self) -> VectorCache:
        """Read the keys of every record, for `find`."""
        self._loaded = self._count()
        stored = np.empty(self._loaded, _KEY)
        per = self._per_read
        for first in range(0, self._loaded, per):
            stored[first:first + per] = self._records(first, min(first + per, self._loaded))["key"]
        rows = np.flatnonzero(stored != b"")  # points stored without a hash are never found
        self._rows = rows[np.argsort(stored[rows], kind="stable")]
        self._sorted = stored[self._rows]
        return self

    def __len__(self) -> int:
        """How many points `find` can find."""
        return len(self._sorted)

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where the cache does not hold it."""
        if not len(self._sorted):
            return np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        return np.where((self._sorted[at] == wanted) & (wanted != b""), self._rows[at], -1)

    def append(self, point_keys: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Append records; their rows. Raises OSError when the disk is full (a part-written record is cut by
        the next append)."""
        block = np.empty(len(point_keys), self.record)
        block["key"], block["vector"], block["check"] = point_keys, vectors, checksums(vectors)
        file = self._handle()
        with self._locked():
            first = self._count()
            end = len(self.header) + first * self.record.itemsize
            if os.fstat(file.fileno()).st_size != end:
                os.ftruncate(file.fileno(), end)
            file.seek(end)
            file.write(block.tobytes())
            file.flush()
        return np.arange(first, first + len(block))

    def _records(self, first: int, end: int) -> np.ndarray:
        size = (end - first) * self.record.itemsize
        data = os.pread(self._handle().fileno(), size, len(self.header) + first * self.record.itemsize)
        if len(data) != size:
            raise OSError(f"{self.path}: the vector cache is shorter than it was")
        return np.frombuffer(data, self.record)

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The vectors at `rows`, read in file order a few MB at a time (not memory-mapped: the file's pages
        would count as the job's memory), and where each one's checksum does not match it (a damaged or
        altered record, which the store must supply instead)."""
        out = np.empty((len(rows), self.record["vector"].shape[0]), np.float32)
        bad = np.zeros(len(rows), bool)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        per = self._per_read
        start = 0
        while start < len(ordered):
            first = int(ordered[start])
            end = start + int(np.searchsorted(ordered[start:], first + per))
            block = self._records(first, int(ordered[end - 1]) + 1)[ordered[start:end] - first]
            out[order[start:end]] = block["vector"]
            bad[order[start:end]] = checksums(block["vector"]) != block["check"]
            start = end
        return out, bad

    def compact(self, point_keys: np.ndarray, vectors: np.ndarray, rows: np.ndarray, force: bool = False) -> None:
        """After a full page-out (its points' keys, vectors and rows): when the records that no point uses
        outnumber the rest (or `force`: some were damaged), rewrite the file as the page-out's keyed points, in
        its order, and whatever another process appended since `load`."""
        if self.path is None:
            return
        keyed = np.flatnonzero(point_keys != b"")
        self._handle()  # opened before the lock is taken: opening takes it too
        with self._locked():
            count = self._count()
            if count <= 2 * len(keyed) and not force:
                return
            later = np.setdiff1d(np.arange(self._loaded, count), rows)
            try:
                file = self._replace(chain(self._blocks(point_keys[keyed], vectors, keyed),
                                           (self._records(int(r), int(r) + 1).tobytes() for r in later)))
            except OSError:
                Path(f"{self.path}.next").unlink(missing_ok=True)
                raise
            self.close()
            self._file = file

    def _blocks(self, point_keys: np.ndarray, vectors: np.ndarray, at: np.ndarray) -> Iterator[bytes]:
        """Records of `point_keys` and `vectors[at]`, a few MB at a time."""
        per = self._per_read
        for first in range(0, len(at), per):
            block = np.empty(len(at[first:first + per]), self.record)
            block["key"], block["vector"] = point_keys[first:first + per], vectors[at[first:first + per]]
            block["check"] = checksums(block["vector"])
            yield block.tobytes()
