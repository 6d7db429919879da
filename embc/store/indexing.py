"""A collection's vector index (HNSW), built beside the process that answers questions: `python -m
embc.store.indexing PARENT_PID SHARD DIM` builds it on a copy of a shard.

Without an index the engine compares a query with every vector: 20-25 ms at 100,000 x 384 here, ten times that
at 1M. The index is an HNSW graph over int8 copies of the vectors (a quarter of their size, kept in memory);
a search walks it on them and rescores the best candidates with the vectors themselves (`SEARCH`). At 100k
that takes 0.30 ms and finds 99.4% of the exact ten nearest, against 0.78 ms and 98.8% for a graph over the
vectors alone, which also took 24.5 s to build against 8.9 s (docs/performance.md). A build is one engine call
that holds the GIL throughout: in the server it would stop every question that long. So a
resident store copies the shard (0.35 s at 100k), a child process builds the index on the copy, and the
store swaps the copy in, unless the collection was written to in the meantime (then nothing changes, and it
tries again once the writes pause). A label write moves each point it touches out of the indexed segment
(the engine copies on write), so a collection is indexed again after a full recluster.

In a collection's folder, `shard` is the live shard, `shard.new` the copy being indexed and `shard.old` the
one just swapped out. `recover` finishes a swap that a crash cut short before the shard is opened again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from qdrant_edge import QuantizationSearchParams, SearchParams

LIVE, NEW, OLD = "shard", "shard.new", "shard.old"
STOP_CHECK = 0.5  # seconds between looks at whether a build should stop
# Candidates from the int8 copies, twice as many as asked rescored; an ef of 192 keeps the recall of the
# graph over the vectors alone (ef 128 lost 2 of every 100 of the ten nearest).
SEARCH = SearchParams(hnsw_ef=192, quantization=QuantizationSearchParams(rescore=True, oversampling=2.0))


def recover(folder: Path) -> None:
    """Put the collection's shard back in place after a crash (under its lock, before it is opened): between
    the two renames of a swap the live shard is missing, and both copies hold the same points."""
    if not (folder / LIVE).exists():
        for leftover in (OLD, NEW):  # the one known to open first
            if (folder / leftover).exists():
                os.replace(folder / leftover, folder / LIVE)
                break
    clean(folder)


def copy_shard(folder: Path) -> Path:
    """A copy of the live shard (flushed by the caller, with no write under way), to be indexed."""
    shutil.rmtree(folder / NEW, ignore_errors=True)
    shutil.copytree(folder / LIVE, folder / NEW)
    return folder / NEW


def build(shard: Path, dim: int, stop: threading.Event | None = None) -> bool:
    """Build the index of the shard at `shard` (of `dim`-d vectors) in a child process, at low priority; False
    when `stop` was set first (the child is ended), EmbcError if it fails."""
    from embc.errors import EmbcError

    child = subprocess.Popen([sys.executable, "-m", "embc.store.indexing", str(os.getpid()), str(shard), str(dim)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        try:
            _, errors = child.communicate(timeout=STOP_CHECK)
            break
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                child.kill()
                child.communicate()
                return False
    if child.returncode != 0:
        raise EmbcError(f"building the vector index failed: {(errors.strip().splitlines() or ['?'])[-1]}")
    return True


def swap(folder: Path, back: bool = False) -> None:
    """Make the indexed copy the live shard, the live one `shard.old` (both closed); `back`: undo that."""
    if back:
        os.replace(folder / LIVE, folder / NEW)
        os.replace(folder / OLD, folder / LIVE)
    else:
        os.replace(folder / LIVE, folder / OLD)
        os.replace(folder / NEW, folder / LIVE)


def clean(folder: Path) -> None:
    """Remove what an index build left beside the live shard."""
    for leftover in (NEW, OLD):
        shutil.rmtree(folder / leftover, ignore_errors=True)


def main() -> int:
    from qdrant_edge import EdgeShard

    from embc.store.embedded import shard_config
    from embc.store.payload_writer import die_with_parent

    die_with_parent(int(sys.argv[1]))
    os.nice(10)  # questions first
    # A collection made before the int8 copies gets them here: the config given is kept in the shard.
    shard = EdgeShard.load(sys.argv[2], shard_config(int(sys.argv[3])))
    try:
        shard.optimize()
    finally:
        shard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
