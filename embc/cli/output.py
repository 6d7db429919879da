"""How commands print: JSON documents or tables on stdout, progress and messages on stderr."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True)


def emit_json(document: object) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    out = Table(title=title, show_lines=False, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*["" if v is None else str(v) for v in row])
    stdout.print(out)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator:
    """A progress bar on stderr when it is a terminal, else one line per step (for logs); yields
    `advance(n, description=...)`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    steps = [description]

    def advance(n: int = 1, **fields) -> None:
        bar.update(task, advance=n, **fields)
        step = fields.get("description")
        if not stderr.is_terminal and step and step != steps[-1]:
            steps.append(step)
            print(f"embc: {step}", file=sys.stderr, flush=True)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield advance
