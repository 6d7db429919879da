"""The browser map's data: a run's 2-D map packed as typed arrays, and where its page and scripts live."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WEB = Path(__file__).resolve().parent / "web"


def map_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """n (uint32), x and y (float32 x n), cluster (int32 x n; -1 noise): what the page's script reads."""
    n = len(columns.get("x", ()))
    cluster = np.asarray(columns["cluster"], dtype=np.float64) if n else np.empty(0)
    return b"".join([np.uint32(n).astype("<u4").tobytes(),
                     np.asarray(columns["x"] if n else [], dtype="<f4").tobytes(),
                     np.asarray(columns["y"] if n else [], dtype="<f4").tobytes(),
                     np.where(np.isnan(cluster), -1, cluster).astype("<i4").tobytes()])
