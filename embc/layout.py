"""Where a data directory keeps each thing: the one place that knows its layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from embc.store.vectors import check_name


def default_home(explicit: str | os.PathLike | None = None) -> Path:
    """`--data-dir`, else `EMBC_HOME`, else the platform's user data folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("EMBC_HOME"):
        return Path(os.environ["EMBC_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("embc"))


@dataclass(frozen=True)
class Layout:
    """The data directory: embedded collections, the report store, vector caches, trained models."""

    root: Path

    @property
    def collections(self) -> Path:
        return self.root / "collections"

    @property
    def reports(self) -> Path:
        return self.root / "reports.duckdb"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def model_dir(self, collection: str) -> Path:
        """Where a model trained on the collection's own items (word2vec, table models) is kept."""
        return self.models / check_name(collection)
