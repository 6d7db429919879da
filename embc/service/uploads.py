"""Files uploaded to the service (multipart/form-data), kept as `embc ingest` would read them: each under its
own file name (its item key, as when the file is named on the command line) in the data directory's
`uploads/COLLECTION` folder, images for good (a point keeps its image's path), the rest until ingested."""

from __future__ import annotations

import json
import os
import re
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from starlette.datastructures import UploadFile

from embc.errors import ParameterError
from embc.ingest.images import IMAGE_SUFFIXES, UnreadableImage, load_rgb
from embc.ingest.sources import IDS_SUFFIX, Keyed, ids_alone, ids_key, unreadable
from embc.results import Skipped

_PART = re.compile(r"[^\x00-\x1f\x7f/\\]{1,255}")
MAX_DEPTH = 16
JOURNAL = ".upload-{}.json"  # in a collection's folder: hidden, so no upload's name


def upload_key(given: str | None) -> str | None:
    """The upload's name as its item key: a relative path, as a file's under `embc ingest FOLDER` (`bag/x.png`),
    or a bare name, as a file named on the command line; None when it is not one (an absolute path, a `..`, a
    hidden or empty part, a control character)."""
    parts = re.split(r"[/\\]", given or "")
    if not 0 < len(parts) <= MAX_DEPTH or any(not _PART.fullmatch(p) or p.startswith(".") or p != p.strip()
                                              for p in parts):
        return None
    return "/".join(parts)


Hashes = Callable[[list[str]], dict[str, str]]  # item keys -> the content hash of each one stored


@dataclass
class Saved:
    """Uploads written where ingest reads them (`files`). Each image that replaced an earlier upload of the same
    name keeps that one under a second name (`earlier`) until the ingest has stored the new one: an image the
    ingest skips must not replace the file that its point still shows. A journal beside them names every key
    with the content hash stored for it before (`before`), written before any file is, so that what a killed
    server left half-done is settled at its next start (`recover`)."""

    journal: Path
    before: dict[str, str | None]
    earlier: dict[str, Path] = field(default_factory=dict)  # planned: for the images whose name held a file
    files: list[Keyed] = field(default_factory=list)

    def stored(self, hashes: Hashes) -> set[str]:
        """The keys whose point now holds other content than before: what the ingest stored, read from the
        store (after an ingest that failed part-way, or one a killed server left)."""
        now = hashes(list(self.before))
        return {key for key, was in self.before.items() if now.get(key) not in (None, was)}

    def settle(self, stored: set[str]) -> None:
        """After the ingest (`stored`: the keys it stored): remove what it read, except the images it stored,
        which their points show, and put back the earlier image of every one it did not; then the journal."""
        for file in self.files:
            earlier = self.earlier.get(file.key)
            if file.path.suffix.lower() not in IMAGE_SUFFIXES:
                file.path.unlink(missing_ok=True)
            elif file.key in stored:
                if earlier is not None:
                    earlier.unlink(missing_ok=True)
            elif earlier is not None and earlier.exists():
                os.replace(earlier, file.path)
            elif earlier is None:  # (with an earlier name and no file there, the new one never replaced it)
                file.path.unlink(missing_ok=True)
        self.journal.unlink(missing_ok=True)

    def write_journal(self) -> None:
        tmp = self.journal.with_name(f".{uuid.uuid4().hex}.part")
        tmp.write_text(json.dumps({"before": self.before,
                                   "earlier": {key: path.name for key, path in self.earlier.items()}}))
        os.replace(tmp, self.journal)


@dataclass
class Named:
    """A request's uploads under their item keys, each with its place in the request (`uploads`), and the skips
    of those without a usable name or with one an earlier upload took, by place (`problems`)."""

    uploads: dict[str, tuple[int, UploadFile]] = field(default_factory=dict)
    problems: dict[int, Skipped] = field(default_factory=dict)


def named(files: list[UploadFile]) -> Named:
    """The uploads by the key each is read under (`upload_key`); a .npy file's ids (`NAME.ids.txt`) only with
    the array, in the same request."""
    out = Named()
    for at, upload in enumerate(files):
        key = upload_key(upload.filename)
        if key is None:
            out.problems[at] = Skipped(str(upload.filename or "(no name)"), "not a usable file name: a relative path "
                                       f"of at most {MAX_DEPTH} parts of 1-255 characters, without '..', hidden parts "
                                       "or control characters")
        elif key in out.uploads:  # a dict: a request may carry many thousands of small files
            out.problems[at] = Skipped(key, "another upload of this request has the same name")
        else:
            out.uploads[key] = at, upload
    beside = {ids_key(key) for key in out.uploads if key.lower().endswith(".npy")}
    for key, (at, _) in list(out.uploads.items()):
        if key.endswith(IDS_SUFFIX) and key not in beside:  # read only beside its array, as a local ingest reads it
            out.problems[at] = Skipped(key, ids_alone(key))
            del out.uploads[key]
    return out


def save(folder: Path, request: Named, hashes: Hashes, line_offset: int = 0) -> tuple[Saved, list[Skipped]]:
    """Write the uploads under `folder`, each at its key (one uploaded again replaces the file, as a changed
    file would), to be read under that key (and its rows' lines from `line_offset`); those without a usable
    name are skipped with the reason, in the order they came."""
    named, problems = request.uploads, dict(request.problems)  # the writes' own skips join the request's
    folder.mkdir(parents=True, exist_ok=True)
    saved = Saved(folder / JOURNAL.format(uuid.uuid4().hex), {key: None for key in named} | hashes(list(named)),
                  {key: (folder / key).with_name(f".{uuid.uuid4().hex}.earlier") for key in named
                   if (folder / key).suffix.lower() in IMAGE_SUFFIXES and unreadable(folder / key) is None})
    saved.write_journal()
    for key, (at, upload) in named.items():
        path = folder / key
        tmp = path.with_name(f".{uuid.uuid4().hex}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                upload.file.seek(0)
                while chunk := upload.file.read(1 << 20):
                    out.write(chunk)
            if key in saved.earlier:
                os.link(path, saved.earlier[key])  # a second name: the path holds a whole file throughout
            os.replace(tmp, path)
        except OSError as exc:  # a file where its folder would go or the reverse, a name too long in bytes
            for leftover in filter(None, (tmp, saved.earlier.get(key))):  # the stored file stays as it was
                with suppress(OSError):
                    leftover.unlink()
            problems[at] = Skipped(key, f"cannot be stored under that name: {exc.strerror or exc}")
            continue
        saved.files.append(Keyed(path, key, line_offset))
    return saved, [problems[at] for at in sorted(problems)]


def recover(folder: Path, hashes: Hashes) -> None:
    """Settle the uploads that a killed server left in `folder` (a collection's) as their ingest would have:
    the images it stored stay, the earlier ones of the others come back, the rest goes."""
    journals = sorted(folder.glob(JOURNAL.format("*")))
    # Files are written only while a journal names them (its own is written first, beside it): without one, no
    # need to look through every image kept.
    for leftover in (folder.rglob if journals else folder.glob)(".*.part"):
        leftover.unlink(missing_ok=True)
    for journal in journals:
        try:
            plan = json.loads(journal.read_text())
            saved = Saved(journal, plan["before"],
                          {key: (folder / key).with_name(name) for key, name in plan["earlier"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # damaged (a kill cannot: it is
            journal.unlink(missing_ok=True)  # written whole or not at all): the files stay as they are
            continue
        saved.files = [Keyed(folder / key, key) for key in saved.before if unreadable(folder / key) is None]
        saved.settle(saved.stored(hashes))
    for leftover in folder.rglob(".*.earlier") if journals else []:  # of a name that is no longer a file
        leftover.unlink(missing_ok=True)


def image(upload: UploadFile):
    """A query image from an upload, as an RGB PIL image, read as ingest reads one (within its pixel limit);
    ParameterError with the reason when it cannot be read."""
    upload.file.seek(0)
    try:
        return load_rgb(upload.file)
    except UnreadableImage as exc:
        raise ParameterError(f"the uploaded image '{upload.filename}' cannot be read: {exc}") from None
