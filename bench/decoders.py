"""Decoders on labelled image sets (issue 20): for each set, clustered by k-means at its true k, the decoder's
training time and the share of held-out items whose decoded image, embedded again by the collection's model,
lands in the item's own cluster (target: 70%); beside it the ceiling, the same share for the original images
scaled to the decoder's size; and the training time on 1,000 images (target: 3 minutes on this machine):
`make bench`. The sets are the shipped sample and those `bench/datasets.py` makes."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SETS = {"fashion-mnist-600 (shipped)": ROOT / "images" / "samples" / "fashion-mnist-600",
        "tuxpaint-8": DATA / "tuxpaint-8", "digits-10": DATA / "digits-10",
        "fashion-train-10, first 1,000": DATA / "fashion-train-10"}
ITEMS = {"fashion-train-10, first 1,000": 1_000}


def _folder(name: str, scratch: Path) -> Path:
    """The set's folder, or for a set cut to ITEMS its first files (in name order) copied into `scratch`."""
    source = SETS[name]
    if not source.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from datasets import make

        make(DATA, [source.name])
    if name not in ITEMS:
        return source
    for file in sorted(source.glob("*/*.png"))[:ITEMS[name]]:
        (scratch / "cut" / file.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, scratch / "cut" / file.parent.name / file.name)
    return scratch / "cut"


def ceiling(ws, size: int) -> float:
    """The share of held-out items whose own image, scaled to `size` as the decoder learns it and embedded
    again, is nearest its cluster's centre: what a perfect decoder of that size would reach."""
    from embc.decode.job import same_cluster
    from embc.decode.pairs import image_pairs

    pairs = image_pairs(ws.store, "images", size)
    return same_cluster(ws.store, ws.reports, ws.collection("images"), pairs, ws.embedder,
                        lambda rows: pairs.targets[rows])


def measure(name: str) -> dict:
    from embc import Workspace

    with tempfile.TemporaryDirectory(prefix="embc-decoders-") as scratch:
        folder = _folder(name, Path(scratch))
        classes = sum(1 for f in folder.iterdir() if f.is_dir())
        with Workspace(Path(scratch) / "home") as ws:
            ws.ingest("images", folder)
            ws.recluster("images", k=classes, seed=0, projection="none")
            started = time.perf_counter()
            result = ws.train_decoder("images")
            seconds = time.perf_counter() - started
            best = ceiling(ws, result.size)
    return {"set": name, "items": result.items, "classes": classes, "held out": result.held_out,
            "train s": round(seconds, 1), "same cluster": result.same_cluster, "ceiling": best,
            "val loss": result.val_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    rows = [measure(name) for name in parser.parse_args().sets]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    met = [r["set"] for r in rows if r["same cluster"] >= 0.7]
    print(f"\nheld-out items back in their own cluster >= 70%: {len(met)} of {len(rows)} sets ({', '.join(met)}); "
          "training on 1,000 images <= 180 s: " + ", ".join(f"{r['train s']} s" for r in rows if r["items"] == 1_000),
          flush=True)


if __name__ == "__main__":
    main()
