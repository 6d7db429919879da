"""A JSONL, CSV or TSV file cut into parts of whole rows, each under a byte budget: how a client sends a table
larger than a server takes in one request. Each part keeps its rows' keys (`FILE#LINE`) through its line
offset, which the server adds to the lines it reads (`read_file`)."""

from __future__ import annotations

import codecs
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from embc.ingest.sources import DELIMITERS, MARKED, not_utf8

CHUNK = 1 << 20


@dataclass
class TablePart:
    """Rows of a table as a file of their own: a CSV or TSV part begins with the table's header. Its line
    `n` is the table's line `n + line_offset`; `first_key` is its first row's key (`FILE#LINE`) without the
    file: the line where that row ends."""

    data: bytes
    line_offset: int
    first_key: int
    rows: int


class UnsplittableTable(ValueError):
    """The table cannot be read as text (the reason is the message)."""


def _records(handle, delimiter: str | None) -> Iterator[tuple[str, int]]:
    """Each record of an open table as its text and the number of lines it takes: a line of JSONL, a row of CSV
    (whose quoted fields may hold line breaks)."""
    if delimiter is None:
        for line in handle:
            yield line, 1
        return
    read: list[str] = []

    def lines() -> Iterator[str]:
        for line in handle:
            read.append(line)
            yield line

    csv.field_size_limit(sys.maxsize)  # as the server reads the file
    for _ in csv.reader(lines(), delimiter=delimiter):
        yield "".join(read), len(read)
        read.clear()


def _part(head: bytes, rows: list[bytes], header_lines: int, first: tuple[int, int]) -> TablePart:
    """A part of `rows` after the header (`head`, of `header_lines`), whose first row begins and ends at the
    table's lines `first`."""
    return TablePart(head + b"".join(rows), first[0] - header_lines - 1, first[1], len(rows))


def _check_utf8(path: Path) -> None:
    """UnsplittableTable unless the file is UTF-8 text throughout, said as `read_file` says it: before any part
    is sent, so that the table goes in whole or not at all, as it would in one request."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # of the chunk read
    with open(path, "rb") as handle:
        if any(handle.read(4).startswith(mark) for mark, _ in MARKED):
            raise UnsplittableTable("UTF-16 or UTF-32 text, of which only a whole file is read")
        handle.seek(0)
        while True:
            chunk = handle.read(CHUNK)
            pending = len(decoder.getstate()[0])  # the end of the last chunk, which the decoder holds back
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise UnsplittableTable(not_utf8(exc.object[exc.start], offset - pending + exc.start)) from None
            if not chunk:
                return
            offset += len(chunk)


def table_parts(path: Path, budget: int) -> Iterator[TablePart]:
    """The rows of the JSONL, CSV or TSV file at `path` in parts of at most `budget` bytes each (a row larger
    than that alone in its part), read as `read_file` reads them: UTF-8, lines ending at \\r, \\n or \\r\\n.
    UnsplittableTable, before any part, when it is not UTF-8."""
    _check_utf8(path)
    delimiter = DELIMITERS.get(path.suffix.lower())
    # newline="": line ends are kept as they are, as the server's reader sees them
    with open(path, encoding="utf-8-sig", newline="") as handle:
        records = _records(handle, delimiter)
        header, header_lines = next(records, ("", 0)) if delimiter is not None else ("", 0)
        head = header.encode()
        part: list[bytes] = []
        size, line, first = len(head), header_lines, (0, 0)  # line: the table's last line read
        for text, lines in records:
            data = text.encode()
            if part and size + len(data) > budget:
                yield _part(head, part, header_lines, first)
                part, size = [], len(head)
            if not part:
                first = line + 1, line + lines
            part.append(data)
            size += len(data)
            line += lines
        if part:
            yield _part(head, part, header_lines, first)
