"""The `embc` command line: thin commands over the library."""

from embc.cli.app import app
from embc.cli import ingest, plot, query, recluster, report  # noqa: F401,E402  (each module adds its commands)


def main() -> None:
    app()
