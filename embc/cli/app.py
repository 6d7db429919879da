"""The Typer app, its global options, and the entry point that turns errors into one line and exit 1."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

import typer

from embc.config import data_dir
from embc.errors import EmbcError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Embed documents into Qdrant, cluster them, and ask what is in each cluster.")


@dataclass
class Env:
    """What every command needs: where the data lives and how to reach the vector store."""

    home: Path
    qdrant_url: Optional[str] = None
    api_key: Optional[str] = None

    @cached_property
    def store(self):
        from embc.store.vectors import open_store

        return open_store(self.home, self.qdrant_url, self.api_key)

    @cached_property
    def reports(self):
        from embc.store.reports import ReportStore

        self.home.mkdir(parents=True, exist_ok=True)
        return ReportStore(self.home / "reports.duckdb")


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir_: Optional[Path] = typer.Option(None, "--data-dir", envvar="EMBC_HOME",
                                             help="Folder for the embedded collections and the report store."),
    qdrant_url: Optional[str] = typer.Option(None, "--qdrant-url", envvar="EMBC_QDRANT_URL",
                                             help="Use a Qdrant server instead of the embedded store."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="EMBC_QDRANT_API_KEY",
                                          help="API key of the Qdrant server."),
) -> None:
    ctx.obj = Env(data_dir(data_dir_), qdrant_url, api_key)


def _register() -> None:
    from embc.cli import ingest, query, recluster, report  # noqa: F401  (each module adds its commands)


def main() -> None:
    _register()
    try:
        app()
    except EmbcError as exc:
        print(f"embc: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("embc: interrupted", file=sys.stderr)
        sys.exit(130)
