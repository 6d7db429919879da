"""Files uploaded to the service (multipart/form-data), kept as `embc ingest` would read them: each under its
own file name (its item key, as when the file is named on the command line) in the data directory's
`uploads/COLLECTION` folder, images for good (a point keeps its image's path), the rest until ingested."""

from __future__ import annotations

import os
import re
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from starlette.datastructures import UploadFile

from embc.errors import ParameterError
from embc.ingest.images import IMAGE_SUFFIXES, UnreadableImage, load_rgb
from embc.ingest.sources import Keyed
from embc.results import Skipped

_PART = re.compile(r"[^\x00-\x1f\x7f/\\]{1,255}")
MAX_DEPTH = 16


def upload_key(given: str | None) -> str | None:
    """The upload's name as its item key: a relative path, as a file's under `embc ingest FOLDER` (`bag/x.png`),
    or a bare name, as a file named on the command line; None when it is not one (an absolute path, a `..`, a
    hidden or empty part, a control character)."""
    parts = re.split(r"[/\\]", given or "")
    if not 0 < len(parts) <= MAX_DEPTH or any(not _PART.fullmatch(p) or p.startswith(".") or p != p.strip()
                                              for p in parts):
        return None
    return "/".join(parts)


@dataclass
class Saved:
    """Uploads written where ingest reads them (`files`), with a link to each earlier upload of an image of the
    same name (`earlier`), kept until the ingest has stored the new one: an image the ingest skips must not
    replace the file that its point still shows."""

    files: list[Keyed] = field(default_factory=list)
    earlier: dict[str, Path] = field(default_factory=dict)

    def settle(self, skipped: set[str] | None) -> None:
        """After the ingest (`skipped`: the keys it skipped; None: it failed): remove what it read, except the
        images it stored, which their points show, and put back the earlier image of every one it did not."""
        for file in self.files:
            stored = skipped is not None and file.key not in skipped
            earlier = self.earlier.pop(file.key, None)
            if earlier is not None and not stored:
                os.replace(earlier, file.path)
                continue
            if earlier is not None:
                earlier.unlink(missing_ok=True)
            if not stored or file.path.suffix.lower() not in IMAGE_SUFFIXES:
                file.path.unlink(missing_ok=True)


def save(folder: Path, files: list[UploadFile]) -> tuple[Saved, list[Skipped]]:
    """Write the uploads under `folder`, each at its key (one uploaded again replaces the file, as a changed
    file would), to be read under that key; those without a usable name are skipped with the reason."""
    saved, skipped, stored = Saved(), [], set()
    for upload in files:
        key = upload_key(upload.filename)
        if key is None:
            skipped.append(Skipped(str(upload.filename or "(no name)"), "not a usable file name: a relative path "
                                   f"of at most {MAX_DEPTH} parts of 1-255 characters, without '..', hidden parts or "
                                   "control characters"))
            continue
        if key in stored:  # a set: a request may carry many thousands of small files
            skipped.append(Skipped(key, "another upload of this request has the same name"))
            continue
        path = folder / key
        tmp = path.with_name(f".{uuid.uuid4().hex}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                upload.file.seek(0)
                while chunk := upload.file.read(1 << 20):
                    out.write(chunk)
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                saved.earlier[key] = path.with_name(f".{uuid.uuid4().hex}.earlier")
                os.link(path, saved.earlier[key])  # a second name: the path holds a whole file throughout
            os.replace(tmp, path)
        except OSError as exc:  # a file where its folder would go or the reverse, a name too long in bytes
            for leftover in filter(None, (tmp, saved.earlier.pop(key, None))):  # the stored file stays as it was
                with suppress(OSError):
                    leftover.unlink()
            skipped.append(Skipped(key, f"cannot be stored under that name: {exc.strerror or exc}"))
            continue
        saved.files.append(Keyed(path, key))
        stored.add(key)
    return saved, skipped


def image(upload: UploadFile):
    """A query image from an upload, as an RGB PIL image, read as ingest reads one (within its pixel limit);
    ParameterError with the reason when it cannot be read."""
    upload.file.seek(0)
    try:
        return load_rgb(upload.file)
    except UnreadableImage as exc:
        raise ParameterError(f"the uploaded image '{upload.filename}' cannot be read: {exc}") from None
