"""`embc ingest`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer

from embc.cli.app import app, workspace
from embc.cli.output import AS_JSON, FORMAT, QUIET, Format, chosen, emit, progress_bar, say
from embc.errors import EmbcError
from embc.results import Skipped

SKIPS_SHOWN = 10  # lines for inputs skipped for one reason; the rest are counted
COLLECTION = typer.Option("default", "--collection", "-c", metavar="NAME", help="Collection name.")


def named_path(path: str) -> Path:
    """A path named, refusing an empty one (an unset variable in a script), which would be the working folder."""
    if not path:
        raise typer.BadParameter("an empty path: name a file or folder")
    return Path(path)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., metavar="PATH", parser=named_path,
                                       help="Files or folders: .txt .md, rows in .jsonl .csv .tsv .parquet, images, "
                                       "or vectors in .npy."),
    collection: str = COLLECTION,
    model: Optional[str] = typer.Option(
        None, "--model", "-m", metavar="MODEL", help="Text: minilm (default), sentence-transformers:NAME_OR_PATH, "
        "word2vec, glove:PATH. Images: effnet-lite0 (default), resnet50, vgg16, vgg19, inception_v3, "
        "clip:MODEL/PRETRAINED. Table rows (CSV, Parquet): autoencoder, tsne, raw."),
    weights: Optional[Path] = typer.Option(None, "--weights", metavar="FILE",
                                           help="Local weights file for an image model."),
    folder_labels: bool = typer.Option(True, "--folder-labels/--no-folder-labels",
                                       help="An image's folder name is its ground-truth label."),
    text_field: Optional[str] = typer.Option(None, metavar="FIELD", help="Row field holding the text (default: text)."),
    label_field: Optional[str] = typer.Option(None, metavar="FIELD",
                                              help="Field holding a ground-truth label (default: label)."),
    id_field: Optional[str] = typer.Option(None, metavar="FIELD",
                                           help="Field holding a stable item id (default: id, else the row)."),
    vector_field: Optional[str] = typer.Option(None, metavar="FIELD", help="Parquet column or JSONL field holding "
                                               "precomputed vectors (default: vector)."),
    bottleneck: Optional[int] = typer.Option(None, min=1, help="autoencoder: size of the bottleneck, the vectors' "
                                             "dimension (default: 8)."),
    retrain: bool = typer.Option(False, "--retrain", help="Retrain the collection's own model (word2vec, "
                                 "autoencoder, tsne, raw) on these items and re-embed them."),
    prune: bool = typer.Option(False, "--prune", help="Also remove the points whose file is gone from a folder "
                               "given."),
    fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON, quiet: bool = QUIET,
) -> None:
    """Embed files and rows into a collection; unchanged items are skipped, bad ones reported."""
    from embc.ingest.sources import count_inputs

    with progress_bar("ingest", count_inputs(paths), quiet, milestones=True) as advance:
        result = workspace(ctx).ingest(collection, list(paths), model=model, weights=weights,
                                       text_field=text_field, label_field=label_field, id_field=id_field,
                                       vector_field=vector_field, folder_labels=folder_labels,
                                       bottleneck=bottleneck, retrain=retrain, prune=prune, progress=advance)
    fmt = chosen(fmt, as_json)
    emit(result.to_dict(), fmt, ["added", "updated", "unchanged", "skipped"] + (["pruned"] if prune else []))
    if fmt is Format.table:
        tell_skipped(result.skipped)
        if result.notes.get("unknown_words"):
            say(f"{result.notes['unknown_words']} of {result.notes['words']} words have no vector and were left out")
    if result.added + result.updated + result.unchanged == 0:
        skipped = len(result.skipped)
        raise EmbcError("nothing to ingest" if not skipped else "nothing ingested: the one input was skipped"
                        if skipped == 1 else f"nothing ingested: all {skipped:,} inputs were skipped")


def tell_skipped(skipped: list[Skipped]) -> None:
    """A line for each input skipped, up to SKIPS_SHOWN of each reason, then one line with how many more."""
    seen: Counter = Counter()
    for item in skipped:
        seen[item.reason] += 1
        if seen[item.reason] <= SKIPS_SHOWN:
            say(f"skipped {item.source}: {item.reason}")
    for reason, count in seen.items():
        if count > SKIPS_SHOWN:
            say(f"... and {count - SKIPS_SHOWN:,} more skipped: {reason} (--format json lists every one)")
