"""Files uploaded to the service (multipart/form-data), kept as `embc ingest` would read them: each under its
own file name (its item key, as when the file is named on the command line) in the data directory's
`uploads/COLLECTION` folder, images for good (a point keeps its image's path), the rest until ingested."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from starlette.datastructures import UploadFile

from embc.errors import ParameterError
from embc.ingest.images import IMAGE_SUFFIXES, UnreadableImage, load_rgb
from embc.results import Skipped

_SAFE = re.compile(r"[^\x00-\x1f\x7f/\\]{1,255}")


def file_name(given: str | None) -> str | None:
    """The upload's name as a file name, or None when it is not one: the client's own folders dropped, no
    hidden names, no control characters."""
    name = re.split(r"[/\\]", given or "")[-1].strip()
    return name if _SAFE.fullmatch(name) and not name.startswith(".") else None


def save(folder: Path, files: list[UploadFile]) -> tuple[list[Path], list[Skipped]]:
    """Write the uploads into `folder` (a name uploaded again replaces the file, as a changed file would);
    those without a usable name are skipped with the reason."""
    folder.mkdir(parents=True, exist_ok=True)
    saved, skipped = [], []
    for upload in files:
        name = file_name(upload.filename)
        if name is None:
            skipped.append(Skipped(str(upload.filename or "(no name)"), "not a usable file name"))
            continue
        tmp = folder / f".{uuid.uuid4().hex}.part"
        with open(tmp, "wb") as out:
            upload.file.seek(0)
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, folder / name)
        saved.append(folder / name)
    return saved, skipped


def discard(paths: list[Path]) -> None:
    """Remove the uploads an ingest has read, except images, which their points still show."""
    for path in paths:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            path.unlink(missing_ok=True)


def image(upload: UploadFile):
    """A query image from an upload, as an RGB PIL image, read as ingest reads one (within its pixel limit);
    ParameterError with the reason when it cannot be read."""
    upload.file.seek(0)
    try:
        return load_rgb(upload.file)
    except UnreadableImage as exc:
        raise ParameterError(f"the uploaded image '{upload.filename}' cannot be read: {exc}") from None
