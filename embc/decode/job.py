"""Training a collection's decoder, start to end: read the pairs, fit, measure how faithful its images are, then
keep the decoder and record its losses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from embc.cluster.progress import Clock, Progress
from embc.decode.decoder import Decoder
from embc.decode.pairs import SIZES, Pairs, image_pairs, row_pairs
from embc.decode.train import Perceived, fit
from embc.errors import EmbcError, ParameterError
from embc.results import DecoderResult
from embc.store.vectors import CollectionInfo, Store

if TYPE_CHECKING:
    from embc.store.reports import ReportStore

EPOCHS = {"image": 20, "row": 300}
RATE = {"image": 2e-3, "row": 3e-3}
FEATURE_SHARE = 0.3  # the last 30% of an image decoder's epochs (at least one) also match features
FEATURE_RATE = 1e-3
CHECKED = 200  # held-out images embedded again to measure `same_cluster`


def kind_of(info: CollectionInfo) -> str:
    """image or row: what the collection's vectors decode to; EmbcError for the collections that have none."""
    if info.modality in ("image", "row"):
        return info.modality
    raise EmbcError(f"collection '{info.name}' holds {info.modality} items: decoders draw images and table rows")


def train_decoder(store: Store, reports: ReportStore, info: CollectionInfo, folder: Path, load: Callable,
                  size: int = 64, epochs: int | None = None, progress: Progress | None = None) -> DecoderResult:
    """Train the collection's decoder on its stored vectors and keep it in `folder`. `load(model, dim=,
    weights=, precision=)` gives the collection's embedder: its row features, or its image model for the
    check. `size`: the side of the images drawn; `epochs`: default 20 for images, 300 for rows."""
    kind = kind_of(info)
    if kind == "image" and size not in SIZES:
        raise ParameterError(f"size must be one of {', '.join(map(str, SIZES))}, not {size!r}")
    epochs = EPOCHS[kind] if epochs is None else epochs
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= 10_000:
        raise ParameterError(f"epochs must be an integer from 1 to 10000, not {epochs!r}")
    started = time.perf_counter()
    clock = Clock(progress)
    clock.begin("read_items")
    if kind == "image":
        pairs = image_pairs(store, info.name, size, clock.report)
    else:
        features = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision).features
        pairs = row_pairs(store, info.name, features, clock.report)
        size = pairs.targets.shape[1]
    clock.begin("train")
    import torch

    torch.manual_seed(0)  # the network's first weights: the same decoder from the same items
    decoder = Decoder.new(kind, info.dim, size, model=info.model, items=len(pairs.ids), points=store.count(info.name))
    later = max(1, round(FEATURE_SHARE * epochs)) if kind == "image" and epochs > 1 else 0
    history = fit(decoder.net, pairs, epochs - later, RATE[kind], progress=lambda done, _: clock.report(done, epochs))
    if later:
        model = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
        seen = Perceived.of(pairs, model.seer())
        history += fit(decoder.net, pairs, later, FEATURE_RATE, seen, first=epochs - later + 1,
                       progress=lambda done, _: clock.report(epochs - later + done, epochs))
    best = min((e for e in history if e.phase == history[-1].phase),
               key=lambda e: e.val_loss if e.val_loss is not None else e.train_loss)
    same = None
    if kind == "image":
        clock.begin("check")
        same = same_cluster(store, reports, info, pairs, load, lambda rows: decoder.decode(pairs.vectors[rows]))
    # Kept only now, past the last step a job may be cancelled at: a cancelled training leaves the decoder before.
    clock.begin("save")
    decoder.facts.update(epochs=epochs, best_epoch=best.epoch, same_cluster=same)
    decoder.save(folder)
    reports.record_decoder(info.name, history)
    clock.end()
    return DecoderResult(info.name, kind, size, len(pairs.ids), int(pairs.validation.sum()), pairs.skipped,
                         epochs, best.epoch, round(best.train_loss, 6),
                         None if best.val_loss is None else round(best.val_loss, 6),
                         round(time.perf_counter() - started, 1), same)


def grown(decoder: Decoder, points: int, fraction: float = 0.3) -> bool:
    """Whether the collection has grown past `fraction` of what it held when the decoder was trained, as a
    recluster refits when it has."""
    return points > (1 + fraction) * decoder.facts.get("points", 0)


def nearest_centre(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each vector's nearest centre (Euclidean, as k-means and the assignment of new points measure), by row."""
    return np.argmax(vectors @ centres.T - 0.5 * (centres ** 2).sum(axis=1), axis=1)


def same_cluster(store: Store, reports: ReportStore, info: CollectionInfo, pairs: Pairs, load: Callable,
                 draw: Callable[[np.ndarray], Iterable[np.ndarray]]) -> float | None:
    """The share of held-out items (up to CHECKED) whose image drawn by `draw(rows)` (uint8, as the decoder
    draws them), embedded again by the collection's model, is nearest the centre of the cluster the item is in
    (as an incremental run assigns points); None without a clustered run to compare."""
    from PIL import Image

    from embc.ingest.items import Item

    latest = reports.run(info.name)
    if latest is None:
        return None
    ids, centres, _ = reports.centroids(latest["run_id"])
    held = np.flatnonzero(pairs.validation)[:CHECKED]
    records = store.retrieve(info.name, [pairs.ids[i] for i in held], keys=["cluster"])
    clusters = {r.id: r.payload.get("cluster") for r in records}
    held = [i for i in held if clusters.get(pairs.ids[i]) in set(ids.tolist())]
    if not len(ids) or not held:
        return None
    embedder = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
    items = []
    for n, image in zip(held, draw(np.array(held))):
        item = Item(key=pairs.ids[n], source="drawn", kind="image", prepared=Image.fromarray(image))
        item.prepared = embedder.prepare(item)
        items.append(item)
    nearest = ids[nearest_centre(embedder.embed(items), centres)]
    return round(float(np.mean([c == clusters[pairs.ids[n]] for c, n in zip(nearest, held)])), 3)
