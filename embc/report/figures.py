"""matplotlib figures, written as PNG (or SVG, PDF) files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from embc.errors import ParameterError, writing_to
from embc.report.labels import placed
from embc.wording import shortened

THUMB = 96
LOSSES = {"pixels": "pixel squared error", "features": "pixel error + weighted (1 - feature cosine)",
          "values": "scaled feature squared error"}  # what a decoder's loss measures in each phase
NOISE_GREY = "#b0b0b0"
LABEL_PAD = 4  # pixels around a label's text: its box's edge, and a little air
FORMATS = ("png", "svg", "pdf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    # Names, keywords and labels come from users and their documents: "$5 and $x" is text, not TeX to typeset
    # (and "$\frac$" would fail the figure).
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def figure_format(out: Path) -> str:
    """The format a figure is written in, from the file's suffix (none: PNG); ParameterError for any other than
    PNG, SVG and PDF, the formats whose files carry the figure's title."""
    suffix = Path(out).suffix.lower()
    if suffix and suffix[1:] not in FORMATS:
        raise ParameterError(f"cannot write a figure as '{suffix}': name a {', '.join('.' + f for f in FORMATS)} file")
    return suffix[1:] or "png"


def _save(fig, out: Path, title: str) -> Path:
    """Write the figure at `out`, in the format its name gives, with its title in the file's metadata."""
    out = Path(out)
    try:
        with writing_to(out):
            fig.savefig(out, format=figure_format(out), dpi=100, metadata={"Title": title})
    finally:
        _pyplot().close(fig)
    return out


def cluster_map(coords: dict, names: dict[int, str], out: Path, title: str) -> Path:
    """The 2-D map: points coloured by cluster, noise in grey, each cluster's name at its centre, or where names
    would cover each other, near it with a line to it (the larger cluster keeps its centre)."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 8))
    x, y, labels = coords["x"], coords["y"], coords["cluster"]
    noise = labels < 0
    ax.scatter(x[noise], y[noise], s=3, c=NOISE_GREY, alpha=0.5, linewidths=0, label="noise")
    clusters = [c for c in np.unique(labels) if c >= 0]
    palette = plt.get_cmap("tab20" if len(clusters) > 10 else "tab10")
    colours = {c: palette(n % palette.N) for n, c in enumerate(clusters)}
    size = max(2.0, min(16.0, 8000 / max(len(x), 1)))
    centres, sizes = {}, {}
    for c in clusters:
        members = labels == c
        ax.scatter(x[members], y[members], s=size, color=colours[c], alpha=0.7, linewidths=0)
        centres[c], sizes[c] = (float(np.median(x[members])), float(np.median(y[members]))), int(members.sum())
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    legend = ax.legend(loc="lower right", markerscale=3) if noise.any() else None
    by_size = sorted(clusters, key=lambda c: -sizes[c])
    _name_clusters(fig, ax, [(centres[c], f"{c}: {shortened(names.get(int(c)) or '', 28)}", colours[c])
                             for c in by_size], legend)
    return _save(fig, out, title)


def _name_clusters(fig, ax, names: list[tuple[tuple[float, float], str, tuple]], legend) -> None:
    """Each (centre, text, colour) as a boxed label, placed by `labels.placed` in the order given, clear of the
    legend if there is one."""
    style = {"ha": "center", "va": "center", "fontsize": 8, "fontweight": "bold"}
    renderer = fig.canvas.get_renderer()
    boxes = []
    for centre, text, _ in names:
        probe = ax.text(*centre, text, **style)
        boxes.append(tuple(probe.get_window_extent(renderer).padded(LABEL_PAD).extents))
        probe.remove()
    points = 72 / fig.dpi  # shifts are found in pixels, drawn in points (the same in every format)
    blocked = [tuple(legend.get_window_extent(renderer).extents)] if legend else []
    shifts = placed(boxes, tuple(ax.get_window_extent(renderer).extents), blocked)
    for (centre, text, colour), (dx, dy) in zip(names, shifts):
        moved = (dx, dy) != (0.0, 0.0)
        ax.annotate(text, centre, xytext=(dx * points, dy * points), textcoords="offset points", **style,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "alpha": 0.85},
                    arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 1} if moved else None)


def elbow(rows: Sequence[dict], out: Path, title: str) -> Path:
    """Inertia over k (the elbow), the chord whose farthest point below it is the elbow, the silhouette over
    the same k, and the chosen k marked."""
    from embc.cluster.sweep import KNEE_BAND, judged

    plt = _pyplot()
    ks = [r["k"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(ks, [r["inertia"] for r in rows], "o-", color="tab:blue", label="inertia (sample)")
    ax.plot([ks[0], ks[-1]], [rows[0]["inertia"], rows[-1]["inertia"]], "--", color="grey", linewidth=1,
            label="chord: the elbow lies farthest below it")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel("inertia", color="tab:blue")
    right = ax.twinx()
    right.plot(ks, [r["silhouette"] for r in rows], "s--", color="tab:orange", label="silhouette")
    right.set_ylabel("silhouette", color="tab:orange")
    chosen = next(r["k"] for r in rows if r["chosen"])
    ax.axvline(chosen, color="black", linestyle=":", label=f"chosen k = {chosen}")
    near = [k for k, close in zip(ks, judged(rows)[1]) if close]
    ax.axvspan(min(near) - 0.5, max(near) + 0.5, color="grey", alpha=0.15,
               label=f"within {1 - KNEE_BAND:.0%} of the elbow: k = {min(near)}-{max(near)}")
    ax.set_xticks(ks)
    handles = [h for axis in (ax, right) for h in axis.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out, title)


def silhouette_blades(values: dict, names: dict[int, str], overall: float | None, out: Path, title: str) -> Path:
    """Per-cluster silhouette blades: each cluster's sampled silhouettes, sorted, one band per cluster."""
    import numpy as np

    plt = _pyplot()
    clusters = [int(c) for c in np.unique(values["cluster"])]
    fig, ax = plt.subplots(figsize=(8, max(4.0, 0.45 * len(clusters) + 1.5)))
    palette = plt.get_cmap("tab20" if len(clusters) > 10 else "tab10")
    bottom, ticks = 0, []
    for n, c in enumerate(clusters):
        blade = np.sort(values["value"][values["cluster"] == c])
        ax.fill_betweenx(np.arange(bottom, bottom + len(blade)), 0, blade, color=palette(n % palette.N), alpha=0.8)
        ticks.append((bottom + len(blade) / 2, f"{c}: {shortened(names.get(c) or '', 24)}"))
        bottom += len(blade) + max(2, len(values["value"]) // 100)
    if overall is not None:
        ax.axvline(overall, color="black", linestyle="--", label=f"mean {overall:.3f}")
        ax.legend(loc="lower right")
    ax.set_yticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=8)
    ax.set_xlabel("silhouette")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out, title)


def montage(rows: Sequence[dict], out: Path, title: str) -> Path:
    """A grid of thumbnails, one row per cluster: `rows` hold id, name, size and the member `paths` (image
    files, or images drawn as arrays); a row's `heading` replaces the cluster's."""
    import numpy as np

    plt = _pyplot()
    columns = max((len(r["paths"]) for r in rows), default=1) or 1
    height = 1.5 * len(rows) + 0.7
    fig, axes = plt.subplots(len(rows), columns, figsize=(max(1.3 * columns, 5.5), height), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.6 / height, hspace=0.45, wspace=0.06)
    blank = np.full((THUMB, THUMB, 3), 255, np.uint8)
    for row, axis_row in zip(rows, axes):
        for n, axis in enumerate(axis_row):
            axis.axis("off")
            if n < len(row["paths"]):
                axis.imshow(_thumbnail(row["paths"][n], blank))
        heading = row.get("heading") or f"cluster {row['id']}: {shortened(row['name'] or '', 60)} ({row['size']} items)"
        axis_row[0].set_title(heading, loc="left", fontsize=9, fontweight="bold")
    fig.suptitle(title, fontsize=12, y=1 - 0.15 / height)
    return _save(fig, out, title)


def _thumbnail(image, blank):
    """An image file, or an array drawn by a decoder, as a THUMB-sized array; `blank` where there is no file (an
    image ingested from memory) or it is unreadable."""
    import numpy as np
    from PIL import Image

    from embc.ingest.images import UnreadableImage, load_rgb

    if image is None:
        return blank
    try:
        picture = load_rgb(image) if isinstance(image, (str, Path)) else Image.fromarray(image)
    except UnreadableImage:
        return blank
    picture.thumbnail((THUMB, THUMB))
    return np.asarray(picture)


def loss_curves(rows: Sequence[dict], out: Path, title: str) -> Path:
    """A decoder's training and validation loss per epoch, each phase (pixels, then features) in its own
    panel, since their losses measure different things."""
    plt = _pyplot()
    phases = list(dict.fromkeys(r["phase"] for r in rows))
    fig, axes = plt.subplots(1, len(phases), figsize=(5 * len(phases) + 1, 4.5), squeeze=False)
    for phase, ax in zip(phases, axes[0]):
        shown = [r for r in rows if r["phase"] == phase]
        epochs = [r["epoch"] for r in shown]
        ax.plot(epochs, [r["train_loss"] for r in shown], "o-", markersize=3, label="training")
        if any(r["val_loss"] is not None for r in shown):
            ax.plot(epochs, [r["val_loss"] for r in shown], "s-", markersize=3, label="validation (held out)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(LOSSES[phase])
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"{phase}", fontsize=10)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out, title)
