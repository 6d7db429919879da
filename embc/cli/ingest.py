"""`embc ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from embc.cli.app import app
from embc.cli.output import emit_json, progress_bar, stderr, table
from embc.errors import EmbcError

COLLECTION = typer.Option("default", "--collection", "-c", help="Collection name.")


@app.command()
def ingest(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., help="Files or folders: .txt .md .jsonl .csv, images, or vectors "
                                       "in .npy/.parquet."),
    collection: str = COLLECTION,
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Text: minilm (default), sentence-transformers:NAME_OR_PATH. Images: "
        "effnet-lite0 (default), resnet50, vgg16, vgg19, inception_v3, clip:MODEL/PRETRAINED. Table rows (CSV, "
        "Parquet): autoencoder, tsne, raw."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local weights file for an image model."),
    folder_labels: bool = typer.Option(True, "--folder-labels/--no-folder-labels",
                                       help="An image's folder name is its ground-truth label."),
    text_field: Optional[str] = typer.Option(None, help="JSONL/CSV field holding the text (default: text)."),
    label_field: Optional[str] = typer.Option(None, help="Field holding a ground-truth label (default: label)."),
    id_field: Optional[str] = typer.Option(None, help="Field holding a stable item id (default: id, else the row)."),
    vector_field: Optional[str] = typer.Option(None, help="Parquet column holding vectors (default: vector)."),
    bottleneck: Optional[int] = typer.Option(None, help="autoencoder: size of the bottleneck, the vectors' "
                                             "dimension (default: 8)."),
    retrain: bool = typer.Option(False, "--retrain", help="Retrain the collection's own model (word2vec, "
                                 "autoencoder, tsne, raw) on these items and re-embed them."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Embed files and rows into a collection; unchanged items are skipped, bad ones reported."""
    from embc.ingest.embedders import TABLE_MODELS
    from embc.ingest.pipeline import ingest as run_ingest
    from embc.ingest.sources import Fields, iter_items
    from embc.store.vector_cache import vectors_folder

    if weights is not None and not weights.is_file():
        raise EmbcError(f"no weights file '{weights}'")
    try:
        table_rows = (model or ctx.obj.store.collection(collection).model) in TABLE_MODELS
    except EmbcError:  # a new collection
        table_rows = False
    fields = Fields(text=text_field, label=label_field, id=id_field, vector=vector_field, folder_labels=folder_labels,
                    table=table_rows)
    with progress_bar("ingest") as advance:
        summary = run_ingest(ctx.obj.store, collection, iter_items(paths, fields), model=model,
                             on_progress=advance, weights=str(weights.resolve()) if weights else None,
                             model_dir=ctx.obj.home / "models", dim=bottleneck, retrain=retrain,
                             vectors_dir=vectors_folder(ctx.obj.home))
    if as_json:
        emit_json({"collection": collection, **summary.as_dict()})
    else:
        table(None, ["added", "updated", "unchanged", "skipped"],
              [[summary.added, summary.updated, summary.unchanged, len(summary.skipped)]])
        for skipped in summary.skipped:
            stderr.print(f"skipped {skipped.source}: {skipped.reason}", markup=False, highlight=False)
        if summary.notes.get("words"):
            stderr.print(f"{summary.notes['unknown_words']} of {summary.notes['words']} words have no vector "
                         "and were left out", markup=False, highlight=False)
    if summary.added + summary.updated + summary.unchanged == 0:
        raise EmbcError(f"nothing ingested: all {len(summary.skipped)} inputs were skipped" if summary.skipped
                        else "nothing to ingest")
