"""The Typer app and its global options; each command module adds its commands to `app`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

import click
import typer
from typer.core import TyperGroup

from embc.config import data_dir
from embc.errors import EmbcError


class EmbcGroup(TyperGroup):
    """Turns an EmbcError anywhere below a command into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EmbcError as exc:
            click.echo(f"embc: error: {exc}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=EmbcGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
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
