"""How commands print: a table, JSON, JSON lines, CSV or TSV on stdout; progress and messages on stderr."""

from __future__ import annotations

import csv
import json
import re
import sys
from contextlib import contextmanager
from enum import Enum
from typing import Iterator, Sequence

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from embc.wording import visible

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True, soft_wrap=True)  # a line in a log stays one line, however long
TRAILING_SPACES = re.compile(" +$", re.MULTILINE)


def choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """An option's choices as an Enum, which the command line lists in --help and checks (exit 2)."""
    return Enum(name, {value: value for value in values}, type=str)


Format = choices("Format", ("table", "json", "jsonl", "csv", "tsv"))

FORMAT = typer.Option(None, "--format", "-f", help="Output: table (default), json, jsonl, csv or tsv.")
AS_JSON = typer.Option(False, "--json", help="Short for --format json: one JSON document.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")


def chosen(fmt: Format | None, as_json: bool) -> Format:
    return Format.json if as_json else (fmt or Format.table)


def emit_json(document: object) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _cell(value: object) -> Text:
    """A table cell: its control characters as escapes, and as Text, which rich never reads as markup (a
    document's "[/]" would end the command)."""
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict):
        text = " ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    return Text(visible(text, one_line=False))


def emit(document: dict | list[dict], fmt: Format, columns: Sequence[str], title: str | None = None,
         wrap: Sequence[str] = ()) -> None:
    """Rows (or one document) in the chosen format: json prints the document whole, jsonl a line per row, csv
    and tsv the rows' `columns` with a header, table those columns fitted to the terminal (`wrap`: the ones
    that may fold, the rest are cut short)."""
    rows = document if isinstance(document, list) else [document]
    if fmt is Format.json:
        emit_json(document)
    elif fmt is Format.jsonl:
        sys.stdout.writelines(json.dumps(row, default=str) + "\n" for row in rows)
    elif fmt in (Format.csv, Format.tsv):
        writer = csv.writer(sys.stdout, delimiter="\t" if fmt is Format.tsv else ",", lineterminator="\n")
        writer.writerow(columns)
        cells = [[_plain(row.get(c)) for c in columns] for row in rows]
        if stdout.is_terminal:  # a terminal shows what a file or a pipe keeps exact
            cells = [[visible(cell, one_line=False) for cell in line] for line in cells]
        writer.writerows(cells)
    else:
        table(title, columns, [[row.get(c) for c in columns] for row in rows], wrap)


def _plain(value: object) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else str(value))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]],
          wrap: Sequence[str] = ()) -> None:
    """A table on stdout: box lines in a terminal, plain aligned columns when piped."""
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if stdout.is_terminal else None,
                pad_edge=False)
    for column in columns:
        out.add_column(column, overflow="fold" if column in wrap else "ellipsis", no_wrap=column not in wrap)
    for row in rows:
        out.add_row(*[_cell(v) for v in row])
    show(out)


def show(renderable: object, **kwargs) -> None:
    """Print to stdout as rich lays it out; in a pipe or a file, without the spaces rich pads each line with."""
    if stdout.is_terminal:
        stdout.print(renderable, **kwargs)
        return
    with stdout.capture() as captured:
        stdout.print(renderable, **kwargs)
    sys.stdout.write(TRAILING_SPACES.sub("", captured.get()))


def tell(message: str) -> None:
    """A line of a command's result on stdout, one line however long: a path in it stays whole for a script to
    read (a terminal wraps it where it must)."""
    stdout.print(visible(message), markup=False, highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """A line for people on stderr."""
    stderr.print(visible(message), markup=False, highlight=False)


class _Steps:
    """What `progress_bar` shows: a rich bar per step in a terminal, and lines in a log."""

    def __init__(self, bar, description: str, total: int | None, log: bool, milestones: bool):
        self.bar, self.log, self.milestones = bar, log, milestones
        self.step, self.task = description, bar.add_task(description, total=total)
        self.logged, self.tenth = False, 0

    def advance(self, n: int = 1, description: str | None = None, **fields) -> None:
        if description and description != self.step:  # a new step: a bar of its own, with its own total
            self.bar.remove_task(self.task)
            self.step, self.task = description, self.bar.add_task(description, total=fields.pop("total", None))
            self.logged, self.tenth = False, 0
        self.bar.update(self.task, advance=n, **fields)
        if self.log:
            self._log(self.bar.tasks[-1])

    def _log(self, task) -> None:
        counted = self.milestones and task.total
        if not self.logged:
            self.logged = True
            print(f"embc: {self.step}" + (f" ({task.total:,.0f})" if counted else ""), file=sys.stderr, flush=True)
        if counted and int(10 * task.completed / task.total) > self.tenth:
            self.tenth = int(10 * task.completed / task.total)
            print(f"embc: {self.step} {task.completed:,.0f}/{task.total:,.0f}", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(description: str, total: int | None = None, quiet: bool = False,
                 milestones: bool = False) -> Iterator:
    """Progress on stderr: a bar with its count and ETA in a terminal; otherwise (a log) a line as each step
    starts (with the step's first report: an error before any work stays the only line), and with `milestones`
    a line at each tenth of a known total. Yields `advance(n, description=, completed=, total=)`."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=stderr, transient=True,
                  disable=quiet or not stderr.is_terminal) as bar:
        yield _Steps(bar, description, total, not stderr.is_terminal and not quiet, milestones).advance
