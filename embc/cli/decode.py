"""`embc decoder train` and `embc decode`: a collection's vectors back into images or table rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from embc.cli.app import app, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import AS_JSON, FORMAT, QUIET, Format, chosen, emit, emit_json, progress_bar, tell
from embc.cli.query import RUN, cluster_id
from embc.errors import EmbcError, ParameterError, writing_to

decoder_app = typer.Typer(no_args_is_help=True, help="The decoder that draws a collection's vectors as images "
                          "or table rows.")
app.add_typer(decoder_app, name="decoder")


@decoder_app.command("train")
def train(ctx: typer.Context, collection: str = COLLECTION,
          size: Optional[int] = typer.Option(None, "--size", help="Image collections: the side of the images "
                                             "drawn, 16, 32, 64 or 128 [default: as before, else 64]."),
          epochs: Optional[int] = typer.Option(None, "--epochs", min=1, max=10_000, help="Passes over the items "
                                               "[default: as before, else 20 for images, 300 for rows]."),
          as_json: bool = AS_JSON, quiet: bool = QUIET) -> None:
    """Train (or train again) the collection's decoder on its stored vectors and its items' own pixels or
    values; its losses per epoch go into the report store (`embc plot loss`)."""
    with progress_bar("decoder", quiet=quiet, milestones=True) as advance:
        def progress(step: str, done: int, total: int) -> None:
            advance(0, description=step, completed=done, total=total or None)

        result = workspace(ctx).train_decoder(collection, size, epochs, progress)
    if as_json:
        emit_json(result.to_dict())
        return
    faithful = ("" if result.same_cluster is None else
                f"; decoded held-out images embedded again land in their own cluster {result.same_cluster:.0%}")
    tell(f"decoder of '{collection}': {result.items} items ({result.held_out} held out, {result.skipped} unreadable), "
         f"{result.epochs} epochs, best {result.best_epoch}, validation loss "
         f"{result.val_loss if result.val_loss is not None else 'n/a'}{faithful} ({result.seconds:.0f} s)")


@app.command()
def decode(ctx: typer.Context, collection: str = COLLECTION,
           item: Optional[str] = typer.Option(None, "--item", metavar="KEY",
                                              help="A stored item: item key or point id."),
           cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ID",
                                                 help="A cluster of the latest (or --run) run: its centre."),
           vector: Optional[Path] = typer.Option(None, "--vector", metavar="FILE",
                                                 help="A .npy file holding one vector."),
           text: Optional[str] = typer.Option(None, "--text", metavar="TEXT", help="A text (CLIP collections)."),
           run: Optional[int] = RUN,
           out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE",
                                              help="Image collections: the file, PNG or the format its name gives "
                                              "(.jpg, .webp) [default: COLLECTION-decoded.png, never overwritten]."),
           fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """Draw what a point of the collection's space looks like with its decoder: an image (PNG), or for a
    table collection the row in the original units ("the typical row of cluster 2")."""
    if sum(q is not None for q in (item, cluster, vector, text)) != 1:
        raise EmbcError("give exactly one of --item, --cluster, --vector or --text")
    target = out or Path(f"{collection}-decoded.png")
    if out is None and target.exists():
        raise EmbcError(f"{target} exists: name the file to write with --out")
    ctx.obj.check_output(target)
    decoded = workspace(ctx).decode(collection, item=item, cluster=None if cluster is None else cluster_id(cluster),
                                    vector=None if vector is None else _vector(vector), text=text, run=run)
    if isinstance(decoded, dict):
        fmt = chosen(fmt, as_json)
        if fmt is Format.table:  # a row of many columns reads best as a column
            emit([{"feature": k, "value": v} for k, v in decoded.items()], fmt, ["feature", "value"],
                 f"decoded row of '{collection}'")
        else:
            emit(decoded, fmt, list(decoded))
        return
    image_format = _image_format(target)
    with writing_to(target):
        decoded.save(target, format=image_format)
    tell(f"wrote {target}")


def _image_format(target: Path) -> str:
    """The image format the file's name asks for (PNG when it has no suffix); ParameterError for one Pillow cannot
    write."""
    from PIL import Image

    if not target.suffix:
        return "PNG"
    found = Image.registered_extensions().get(target.suffix.lower())
    if found is None or found not in Image.SAVE:
        raise ParameterError(f"cannot write an image as '{target.suffix}': name a .png, .jpg or .webp file")
    return found


def _vector(path: Path):
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise EmbcError(f"no vector file '{path}'") from None
    except (OSError, ValueError) as exc:  # numpy takes a file that is no .npy for pickled data
        reason = "it is not a .npy array of numbers" if "pickle" in str(exc) else exc
        raise EmbcError(f"cannot read a vector from '{path}': {reason}") from None
    if array.ndim > 1 and array.size != array.shape[-1]:
        raise EmbcError(f"'{path}' holds an array of shape {array.shape}, not one vector")
    return array.reshape(-1)
