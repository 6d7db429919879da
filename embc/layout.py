"""Where a data directory keeps each thing: the one place that knows its layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from embc.errors import EmbcError, ParameterError
from embc.store.vectors import check_name


def default_home(explicit: str | os.PathLike | None = None) -> Path:
    """`--data-dir`, else `EMBC_HOME`, else the platform's user data folder; an empty path, or one that is a
    file, is refused (ParameterError)."""
    if explicit is None:
        explicit = os.environ.get("EMBC_HOME") or None
    if explicit is None:
        import platformdirs

        return Path(platformdirs.user_data_dir("embc"))
    if not str(explicit).strip():
        raise ParameterError("the data directory is an empty path: name a folder (--data-dir or EMBC_HOME)")
    home = Path(explicit).expanduser()
    if home.exists() and not home.is_dir():
        raise ParameterError(f"the data directory '{home}' is a file, not a folder")
    return home


@dataclass(frozen=True)
class Layout:
    """The data directory: embedded collections, the report store, vector caches, trained models."""

    root: Path

    def make(self) -> Path:
        """The data directory, made if it is not there yet; EmbcError when it cannot be."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbcError(f"cannot make the data directory '{self.root}': {exc.strerror or exc}") from None
        return self.root

    @property
    def collections(self) -> Path:
        return self.root / "collections"

    @property
    def reports(self) -> Path:
        return self.root / "reports.duckdb"

    @property
    def served(self) -> Path:
        """While `embc serve` owns the directory: its address, in JSON, beside the lock it holds."""
        return self.root / "serve.json"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def openvino(self) -> Path:
        """Text models converted for OpenVINO (`embc.ingest.openvino_text`), made once from their weights."""
        return self.root / "openvino"

    @property
    def all_uploads(self) -> Path:
        """Where the files uploaded to `embc serve` are kept, a folder per collection (`uploads`)."""
        return self.root / "uploads"

    def uploads(self, collection: str) -> Path:
        """Where the files uploaded to `embc serve` for the collection are kept."""
        return self.all_uploads / check_name(collection)

    @property
    def jobs(self) -> Path:
        """The locks that keep one recluster job per collection (`ReportStore.job`)."""
        return self.root / "jobs"

    def check_outside(self, path: str | os.PathLike) -> None:
        """ParameterError when `path`, a file the user names to write (an export, a figure), is one of the
        directory's own files or lies in one of its folders: writing it would replace what embc keeps."""
        try:
            inside = Path(path).resolve().relative_to(self.root.resolve())
        except ValueError:
            return
        top = inside.parts[0] if inside.parts else ""
        folders = {p.name for p in (self.collections, self.vectors, self.models, self.openvino, self.all_uploads,
                                    self.jobs)}
        if top in folders or top.startswith((self.reports.name, self.served.name)):
            raise ParameterError(f"'{path}' would replace or sit among embc's own files in the data directory "
                                 f"{self.root}: write it elsewhere")

    def model_dir(self, collection: str) -> Path:
        """Where a model trained on the collection's own items (word2vec, table models) is kept."""
        return self.models / check_name(collection)

    def decoder(self, collection: str) -> Path:
        """Where the collection's decoder (vectors back to images or rows) is kept, beside its other models."""
        return self.model_dir(collection) / "decoder"
