"""matplotlib figures, written as PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

THUMB = 96


def montage(rows: Sequence[dict], out: Path, title: str) -> Path:
    """A grid of thumbnails, one row per cluster: `rows` hold id, name, size and the member `paths`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from embc.ingest.images import UnreadableImage, load_rgb

    columns = max((len(r["paths"]) for r in rows), default=1) or 1
    height = 1.5 * len(rows) + 0.7
    fig, axes = plt.subplots(len(rows), columns, figsize=(max(1.3 * columns, 5.5), height), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.6 / height, hspace=0.45, wspace=0.06)
    blank = np.full((THUMB, THUMB, 3), 255, np.uint8)
    for row, axis_row in zip(rows, axes):
        for n, axis in enumerate(axis_row):
            axis.axis("off")
            if n >= len(row["paths"]):
                continue
            try:
                image = load_rgb(row["paths"][n])
                image.thumbnail((THUMB, THUMB))
                axis.imshow(np.asarray(image))
            except UnreadableImage:
                axis.imshow(blank)
        name = row["name"] if len(row["name"] or "") <= 60 else row["name"][:59] + "…"
        axis_row[0].set_title(f"cluster {row['id']}: {name} ({row['size']} items)", loc="left", fontsize=9,
                              fontweight="bold")
    fig.suptitle(title, fontsize=12, y=1 - 0.15 / height)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
