"""Find items under the paths a user names and read them; a bad input becomes a Skipped with its reason."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from embc.export import COLUMNS as EXPORT_COLUMNS
from embc.ingest.images import IMAGE_SUFFIXES
from embc.ingest.items import Item, as_vector, map_floats, vector_problem
from embc.ingest.registry import TABLE_MODELS
from embc.results import Skipped

TEXT_SUFFIXES = {".txt", ".md"}
ROW_SUFFIXES = {".jsonl", ".csv", ".tsv"}
# JSON may hold U+2028, U+2029 and NEL raw inside a string, which str.splitlines would break at; \r and \n
# it may not.
LINE_BREAK = re.compile("\r\n|\r|\n")
DELIMITERS = {".csv": ",", ".tsv": "\t"}
IDS_SUFFIX = ".ids.txt"  # sidecar of NAME.npy: one id per line
NO_TEXT_HINT = f"name the text field, or embed rows of values with a table model ({', '.join(TABLE_MODELS)})"
FLOAT32_MAX = float(np.finfo(np.float32).max)
EXPORTED = frozenset(EXPORT_COLUMNS)
# Text that names its encoding by a byte-order mark (Windows' "Unicode" files); UTF-32's marks first, as
# UTF-32-LE's begins with UTF-16-LE's. Anything else must be UTF-8.
MARKED = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
          (codecs.BOM_UTF16_BE, "utf-16")]


ROLES = ("text", "vector", "id", "label")  # what a row's fields may hold, in the order a missing one is named


@dataclass
class Fields:
    """Which fields of a JSONL, CSV, TSV or Parquet row hold what; `None` means the default name, if present.
    `folder_labels`: an image's label is the name of its folder; `table`: rows are table rows (for the
    table embedders), whose columns other than the id and label are its features."""

    text: str | None = None
    label: str | None = None
    id: str | None = None
    vector: str | None = None
    folder_labels: bool = True
    table: bool = False  # CSV and Parquet rows are table rows: every other column is a feature

    def columns(self) -> dict[str, str]:
        """Each role's column (text, vector, id, label): the name the user gave, else the role's own."""
        return {role: getattr(self, role) or role for role in ROLES}

    def pick(self, row: dict, name: str, default: str) -> tuple[bool, object]:
        """(found, value) for field `name`; a field the user named must be there, a default one may be absent."""
        wanted = getattr(self, name)
        value = row.get(wanted or default)
        if not _empty(value):
            return True, value
        if wanted is not None and name != "label":
            raise KeyError(wanted)
        return False, None


def _empty(value: object) -> bool:
    """Whether a field's value is missing: None, "" (a CSV cell) or NaN (as pandas writes a missing value into a
    Parquet column of numbers). A vector may be a numpy array."""
    return value is None or (isinstance(value, str) and not value) or (isinstance(value, float) and np.isnan(value))


def iter_items(paths: list[str | Path], fields: Fields | None = None) -> Iterator[Item | Skipped]:
    """Every item under `paths`, in a stable order, and every input that had to be skipped."""
    fields = fields or Fields()
    for file, source, root, line_offset in files_in(paths):
        if (problem := unreadable(file)) is not None:
            yield Skipped(source, problem)
            continue
        for entry in read_file(file, source, fields, line_offset):
            if root is not None and isinstance(entry, Item):
                entry.root = root
            yield entry


def read_file(path: Path, source: str, fields: Fields, line_offset: int = 0) -> Iterator[Item | Skipped]:
    """Items from one file; `source` is its path relative to the folder the user named. A JSONL, CSV or TSV
    row is keyed by its line (`source#LINE`), a Parquet row or a vector without an id by its number from 0
    (`source#ROW`), plus `line_offset` when the file is a part of a larger one. An ids file (`NAME.ids.txt`) is
    read only with its array."""
    suffix = path.suffix.lower()
    if path.name.endswith(IDS_SUFFIX):
        yield Skipped(source, ids_alone(source))
    elif suffix in TEXT_SUFFIXES:
        yield from _text_file(path, source)
    elif suffix == ".jsonl":
        yield from _jsonl(path, source, fields, line_offset)
    elif suffix in DELIMITERS:
        yield from _csv(path, source, fields, DELIMITERS[suffix], line_offset)
    elif suffix == ".npy":
        yield from _npy(path, source, line_offset)
    elif suffix == ".parquet":
        yield from _parquet(path, source, fields, line_offset)
    elif suffix in IMAGE_SUFFIXES:
        yield _image_file(path, source, fields.folder_labels)
    else:
        yield Skipped(source, f"unsupported file type '{suffix or path.name}'")


def _read(path: Path, source: str) -> bytes | Skipped:
    try:
        return path.read_bytes()
    except OSError as exc:
        return Skipped(source, f"unreadable: {exc.strerror or exc}")


def _decode(path: Path, source: str, rows: bool = False) -> str | Skipped:
    """The file's text, or why it is skipped. A NUL makes a text file binary. In a file of `rows` (CSV, TSV,
    JSONL) a stray NUL is its row's, which the row's own checks skip, as in any other batch; a quarter of its
    bytes NUL is binary data, or UTF-16 without its mark."""
    data = _read(path, source)
    if isinstance(data, Skipped):
        return data
    encoding = next((name for mark, name in MARKED if data.startswith(mark)), None)
    if encoding:
        try:
            data = data.decode(encoding).encode("utf-8")
        except UnicodeDecodeError:  # bytes that only begin like the mark
            return Skipped(source, "binary file")
    if not data.strip():
        return Skipped(source, "empty file")
    head = data[:8192]
    if b"\0" in head and (not rows or 4 * head.count(0) >= len(head)):
        return Skipped(source, "binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped(source, not_utf8(data[exc.start], exc.start))


def not_utf8(byte: int, offset: int) -> str:
    """Why a file is not read as text: the first byte that is not UTF-8, and where."""
    return f"not UTF-8 text (byte 0x{byte:02x} at offset {offset})"


def _text_file(path: Path, source: str) -> Iterator[Item | Skipped]:
    text = _decode(path, source)
    if isinstance(text, Skipped):
        yield text
    else:
        yield Item(key=source, source=source, kind="text", text=text.strip())


def _image_file(path: Path, source: str, folder_labels: bool) -> Item | Skipped:
    """An image item; it is decoded when embedded, where a corrupt file is skipped with its reason."""
    data = _read(path, source)
    if isinstance(data, Skipped):
        return data
    if not data:
        return Skipped(source, "empty file")
    return Item(key=source, source=source, kind="image", path=str(path.resolve()),
                label=path.resolve().parent.name if folder_labels else None,
                data_hash=hashlib.sha256(data).hexdigest())


def as_text(value: object) -> str | None:
    """A key's or a label's value as text: a string as it is, true, a list or an object as JSON writes them (not
    as Python's True or its dict), None for None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, dict, list)):
        try:
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):  # a record built in Python may hold what JSON cannot
            pass
    return str(value)


def row_item(row: dict, source: str, where: str, fields: Fields, vectors: bool = False) -> Item | Skipped:
    """A row's text item; with `vectors` (JSON rows), the precomputed vector of a row that has one in its `vector`
    field (or the one `fields` names), unless only a text field is named."""
    try:
        has_text, text = fields.pick(row, "text", "text")
        has_id, ident = fields.pick(row, "id", "id")
        _, label = fields.pick(row, "label", "label")
        has_vector, vector = fields.pick(row, "vector", "vector") if vectors else (False, None)
    except KeyError as exc:
        return Skipped(where, _lacking(row, exc.args[0], fields))
    key = as_text(ident) if has_id else where
    if has_vector and (fields.vector is not None or fields.text is None):
        return vector_item(key, source, vector, as_text(label))
    if not has_text:
        return Skipped(where, _lacking(row, fields.text or "text", fields))
    if not isinstance(text, str):
        return Skipped(where, f"'{fields.text or 'text'}' is not a string")
    if not text.strip():
        return Skipped(where, "empty text")
    return Item(key=key, source=source, kind="text", text=text.strip(), label=as_text(label))


def _lacking(row: dict, name: str, fields: Fields) -> str:
    """Why a row has no value in field `name`: the field is not there, or it is empty (a CSV cell, a null)."""
    if name not in row:
        return f"no '{name}' field"
    return "empty text" if name == (fields.text or "text") else f"empty '{name}'"


def read_row(row: dict, source: str, where: str, fields: Fields, vectors: bool = True) -> Item | Skipped:
    """A row of JSONL, CSV, TSV or Parquet, or a record: the item an `embc export` row was exported from, a table
    row for a table model, else a text or (with `vectors`) a precomputed vector."""
    if is_exported(row, fields):
        return exported_row(row, source, where)
    if fields.table:
        return table_row(row, source, where, fields)
    return row_item(row, source, where, fields, vectors=vectors)


def is_exported(columns: Iterable[str], fields: Fields) -> bool:
    """Whether a row with these columns (a dict's keys) is a row of `embc export` (it has all of the export's
    columns) to be read as one: unless the user named the fields to read."""
    return all(getattr(fields, role) is None for role in ROLES) \
        and EXPORTED.issubset(columns)


def named_twice(columns: list[str], fields: Fields) -> str | None:
    """Why a file's columns cannot be read, if they cannot: it names a column that its rows are read by (every
    column of a table row or an export's; else the text, id, label and vector fields) more than once, and a row
    would keep one of the columns' values and drop the others unseen."""
    read = set(columns) if fields.table or is_exported(columns, fields) else set(fields.columns().values())
    twice = [c for c, count in Counter(columns).items() if c in read and count > 1]
    return f"the file names the column {twice[0]!r} more than once: give each column its own name" if twice \
        else None


def exported_row(row: dict, source: str, where: str) -> Item | Skipped:
    """The item an export's row was exported from: its key (`item`), its source, its label and what it held (a
    text, a table row, or a vector exported with `--vectors`). The run's columns (point id, cluster, position)
    are left out. An image's row holds only the path of its file, which a row cannot make ingest read."""
    if _empty(row["item"]):
        return Skipped(where, "an exported row without its 'item'")
    key, kind = as_text(row["item"]), row["kind"]
    label = None if _empty(row["label"]) else as_text(row["label"])
    origin = row["source"] if isinstance(row["source"], str) and row["source"] else source
    if kind == "text":
        return row_item({"id": key, "text": row["text"], "label": label}, origin, where, Fields())
    if kind == "row":
        return values_item(_json_object(row["values"]), key, origin, where, label)
    if kind == "vector" and not _empty(row.get("vector")):
        return vector_item(key, origin, row["vector"], label)
    if kind == "vector":
        return Skipped(where, "an exported vector without its values: export the collection with its vectors "
                              "(--vectors)")
    if kind == "image":
        return Skipped(where, "an exported image row holds its file's path, not the image: ingest the image files")
    return Skipped(where, f"an exported row of unknown kind {as_text(kind)!r}")


def _json_object(value: object) -> object:
    """A table row's columns as an export holds them: a JSON object, or its text (in CSV, TSV and Parquet)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def table_row(row: dict, source: str, where: str, fields: Fields) -> Item | Skipped:
    """A table row: its id and label columns, and every other column as a feature (None where missing)."""
    try:
        has_id, ident = fields.pick(row, "id", "id")
        _, label = fields.pick(row, "label", "label")
    except KeyError as exc:
        return Skipped(where, _lacking(row, exc.args[0], fields))
    reserved = {fields.id or "id", fields.label or "label"}
    values = {k: v for k, v in row.items() if k not in reserved}
    return values_item(values, as_text(ident) if has_id else where, source, where, as_text(label))


def values_item(values: object, key: str, source: str, where: str, label: str | None) -> Item | Skipped:
    """A table row's item from its feature columns (a dict), or why it cannot be one."""
    if not isinstance(values, dict):
        return Skipped(where, "the row's values are not an object of columns")
    values = {k: None if v in ("", None) else v for k, v in values.items()}
    # In JSON's types, which the store's payload takes: a Parquet timestamp or decimal as its text (as a CSV cell
    # holds it, and as the content hash reads it), NaN as missing and an infinity as its text (as in a CSV).
    values = _finite(json.loads(json.dumps(values, default=str)))
    if not values:
        return Skipped(where, "no feature columns")
    if all(map(is_missing, values.values())):
        return Skipped(where, "every feature value is missing")
    huge = next((k for k, v in values.items() if _out_of_range(v)), None)
    if huge is not None:
        return Skipped(where, f"'{huge}' is {values[huge]}: a number must lie within ±3.4e38 (float32)")
    return Item(key=key, source=source, kind="row", values=values, label=label)


def _finite(value: object) -> object:
    """`value` with each NaN in it as None and each infinity as its text: the store's payload holds neither."""
    return map_floats(value, lambda x: x if np.isfinite(x) else None if np.isnan(x) else str(x))


def is_missing(value: object) -> bool:
    """Whether a table value is missing: empty, or a number that is NaN ("nan", "NaN")."""
    if value is None:
        return True
    try:
        return bool(np.isnan(float(value)))
    except (TypeError, ValueError, OverflowError):
        return False


def _out_of_range(value: object) -> bool:
    """Whether a table value reads as a number beyond float32's range ("inf", "-Infinity", 1e308): its column
    cannot be scaled (a square of 1e308 overflows, and makes every row's vector NaN); NaN reads as missing."""
    try:
        return abs(float(value)) > FLOAT32_MAX
    except (TypeError, ValueError):
        return False
    except OverflowError:  # an int too large for a float
        return True


def _jsonl(path: Path, source: str, fields: Fields, line_offset: int = 0) -> Iterator[Item | Skipped]:
    content = _decode(path, source, rows=True)
    if isinstance(content, Skipped):
        yield content
        return
    for lineno, line in enumerate(LINE_BREAK.split(content), 1 + line_offset):
        if not line.strip():
            continue
        where = f"{source}#{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"malformed JSON: {exc.msg}")
            continue
        except RecursionError:
            yield Skipped(where, "malformed JSON: nested too deeply")
            continue
        if not isinstance(row, dict):
            yield Skipped(where, "not a JSON object")
            continue
        yield read_row(row, source, where, fields)


def _csv(path: Path, source: str, fields: Fields, delimiter: str = ",", line_offset: int = 0
         ) -> Iterator[Item | Skipped]:
    content = _decode(path, source, rows=True)
    if isinstance(content, Skipped):
        yield content
        return
    csv.field_size_limit(sys.maxsize)  # a long text is one field: the default limit (128 KiB) failed the file
    # newline="": line breaks inside quoted fields stay in them, and a lone CR ends a row (old Mac files).
    reader = csv.DictReader(io.StringIO(content, newline=""), restkey="\0extra", delimiter=delimiter)
    text_column = fields.text or "text"
    if reader.fieldnames is None or (not fields.table and text_column not in reader.fieldnames):
        hint = "" if fields.text else f": {NO_TEXT_HINT}"
        yield Skipped(source, f"no '{text_column}' column (columns: {', '.join(reader.fieldnames or [])}){hint}")
        return
    if twice := named_twice(reader.fieldnames, fields):
        yield Skipped(source, twice)
        return
    width = len(reader.fieldnames)
    for row in reader:
        where = f"{source}#{reader.line_num + line_offset}"
        if "\0extra" in row or None in row.values():
            got = width + len(row.get("\0extra", [])) - sum(v is None for v in row.values())
            yield Skipped(where, f"malformed row: {got} fields, expected {width}")
            continue
        yield read_row(row, source, where, fields, vectors=False)


def vector_item(key: str, source: str, vector, label: str | None = None) -> Item | Skipped:
    """A precomputed vector, or why it cannot be one: not numbers, not a flat list, non-finite, or all zeros."""
    try:
        array = as_vector(vector)
    except (TypeError, ValueError):
        return Skipped(key, "the vector is not a list of numbers")
    problem = vector_problem(array) if array.ndim == 1 and len(array) else "the vector is not a flat list of numbers"
    return Skipped(key, problem) if problem else Item(key=key, source=source, kind="vector", vector=array,
                                                      label=label)


class UnreadableVectors(ValueError):
    """A .npy file, or its ids beside it, that cannot be read as vectors (the reason is the message)."""


P = TypeVar("P", bound=PurePath)


def ids_path(path: P) -> P:
    """Where the ids of the vectors in the .npy file at `path` are (its sidecar: one id per line)."""
    return path.with_name(path.name[: -len(".npy")] + IDS_SUFFIX)


def ids_key(key: str) -> str:
    """The key (a relative path with /) of the ids of the .npy file keyed `key`, as `ids_path` places them."""
    return ids_path(PurePosixPath(key)).as_posix()


def ids_alone(key: str) -> str:
    """Why the ids file `key` (`NAME.ids.txt`) is not read on its own."""
    array = key[: -len(IDS_SUFFIX)] + ".npy"
    return f"the ids of {array}: ingest {array}, and they are read with it"


def load_vectors(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The 2-D array of a .npy file (mapped, not read) and the ids beside it, if there are; UnreadableVectors
    with the reason otherwise."""
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise UnreadableVectors(f"not a readable .npy file: {exc}") from None
    if matrix.ndim != 2 or not (np.issubdtype(matrix.dtype, np.integer) or np.issubdtype(matrix.dtype, np.floating)):
        raise UnreadableVectors(f"expected a 2-D array of real numbers, got shape {matrix.shape} of {matrix.dtype}")
    sidecar = ids_path(path)
    if not sidecar.exists():
        return matrix, None
    try:
        ids = [line.strip() for line in sidecar.read_text("utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableVectors(f"{sidecar.name} cannot be read as UTF-8 text ({exc.__class__.__name__})") from None
    if len(ids) != len(matrix):
        raise UnreadableVectors(f"{sidecar.name} has {len(ids)} ids for {len(matrix)} vectors")
    return matrix, ids


def _npy(path: Path, source: str, row_offset: int = 0) -> Iterator[Item | Skipped]:
    try:
        matrix, ids = load_vectors(path)
    except UnreadableVectors as exc:
        yield Skipped(source, str(exc))
        return
    for row in range(len(matrix)):
        yield vector_item(ids[row] if ids else f"{source}#{row + row_offset}", source, matrix[row])


def open_parquet(path: Path, source: str):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        return Skipped(source, f"not a readable Parquet file: {' '.join(str(exc).split())}")


def _parquet(path: Path, source: str, fields: Fields, row_offset: int = 0) -> Iterator[Item | Skipped]:
    """Parquet rows as JSONL rows are read (a text, or a precomputed vector), or as table rows; a column the user
    named that is not there, or neither a text nor a vector column, skips the file with the columns it has."""
    table = open_parquet(path, source)
    if isinstance(table, Skipped):
        yield table
        return
    columns = table.schema_arrow.names
    if twice := named_twice(columns, fields):
        yield Skipped(source, twice)
        return
    wanted = None  # a table row's features are every column, and an export's row is read whole
    if not fields.table and not is_exported(columns, fields):
        named = fields.columns()
        absent = [name for role, name in named.items() if getattr(fields, role) and role != "label"
                  and name not in columns]
        if absent or (named["text"] not in columns and named["vector"] not in columns):
            missing = f"'{absent[0]}'" if absent else f"'{named['text']}' or '{named['vector']}'"
            hint = "" if absent else f": {NO_TEXT_HINT}"
            yield Skipped(source, f"no {missing} column (columns: {', '.join(columns)}){hint}")
            return
        wanted = [c for c in columns if c in named.values()]
    row = row_offset
    for batch in parquet_batches(table, 4096, wanted, row_offset):
        if isinstance(batch, DamagedRows):
            yield batch.skipped(source)
            row += batch.rows
            continue
        for values in batch.to_pylist():
            yield read_row(values, source, f"{source}#{row}", fields)
            row += 1


@dataclass
class DamagedRows:
    """Rows of a Parquet file that a damaged page keeps from being read: `rows` of them from row `first`."""

    first: int
    rows: int
    reason: str

    def skipped(self, source: str) -> Skipped:
        """The skip of these rows of the file read as `source`, keyed by the first of them."""
        return Skipped(f"{source}#{self.first}", f"rows {self.first}-{self.first + self.rows - 1} cannot be read "
                       f"(a damaged page): {self.reason}")


def parquet_batches(table, size: int, columns: list[str] | None = None, first: int = 0) -> Iterator:
    """The rows of an open Parquet file (`open_parquet`) as record batches of up to `size` rows, numbered from
    `first`; where a damaged page stops a row group, the rest of that group as DamagedRows, and the next group."""
    from pyarrow import ArrowException

    row = first
    for group in range(table.num_row_groups):
        end = row + table.metadata.row_group(group).num_rows
        try:
            for batch in table.iter_batches(batch_size=size, row_groups=[group], columns=columns):
                yield batch
                row += batch.num_rows
        except (OSError, ValueError, ArrowException) as exc:  # pyarrow raises several types for a damaged page
            if end > row:
                yield DamagedRows(row, end - row, " ".join(str(exc).split()))  # its messages run over several lines
        row = end


class Keyed(os.PathLike):
    """A file read under a key given with it (an upload's name) instead of the one its path would give; a part
    of a larger table numbers its rows' lines from `line_offset` + 1 (as `read_file`)."""

    def __init__(self, path: Path, key: str, line_offset: int = 0):
        self.path, self.key, self.line_offset = Path(path), key, line_offset

    def __fspath__(self) -> str:
        return str(self.path)


def files_in(paths: list[str | Path]) -> Iterator[tuple[Path, str, str | None, int]]:
    """Each file to read as (path, source, root, line_offset): a file named is its own source; a folder's
    files, hidden ones and ids files (`*.ids.txt`, read beside their .npy) left out, have their path relative to
    it as source and the folder as root; a `Keyed` file has its key as source, and its line offset."""
    for raw in paths:
        if isinstance(raw, Keyed):
            if not raw.key.endswith(IDS_SUFFIX):  # an upload's ids, read beside its array
                yield raw.path, raw.key, None, raw.line_offset
            continue
        path = Path(raw)
        if not is_folder(raw):
            yield path, path.name if _answer(path.exists) else str(raw), None, 0
            continue
        root = str(path.resolve())
        for file in sorted(p for p in path.rglob("*") if not p.is_dir()):
            rel = file.relative_to(path)
            if not any(part.startswith(".") for part in rel.parts) and not file.name.endswith(IDS_SUFFIX):
                yield file, rel.as_posix(), root, 0


def is_folder(path: str | os.PathLike) -> bool:
    """Whether a path named is a folder (and not one the system refuses to look at)."""
    return _answer(Path(path).is_dir)


def _answer(question: Callable[[], bool]) -> bool:
    """A question about a path, False where the system refuses to look at it (too long a name)."""
    try:
        return question()
    except OSError:
        return False


def unreadable(file: Path) -> str | None:
    """Why a path named or found in a folder cannot be read as a file, if it cannot: a pipe or a device would
    block or never end; the system may refuse the path itself."""
    try:
        if file.is_file():
            return None
        if file.is_symlink() and not file.exists():
            return "a link to nothing"
        return "not a regular file" if file.exists() else "no such file or folder"
    except OSError as exc:  # too long a name, no permission to look
        return exc.strerror.lower() if exc.strerror else str(exc)


def _inputs_in(path: Path) -> int:
    suffix = path.suffix.lower()
    if unreadable(path) is not None:  # one skipped input; opening a pipe to count its rows would wait for good
        return 1
    try:
        if suffix in ROW_SUFFIXES:
            with open(path, "rb") as handle:
                lines = sum(1 for line in handle if line.strip())
            return max(1, lines - (suffix in DELIMITERS))  # less the header
        if suffix == ".npy":
            return max(1, len(np.load(path, mmap_mode="r", allow_pickle=False)))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return max(1, pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # a bad file counts once: it will be one skipped input
        return 1
    return 1


def count_inputs(paths: list[str | Path]) -> int:
    """About how many inputs `iter_items` will yield (rows counted by lines), for a progress bar's total."""
    return sum(_inputs_in(path) for path, *_ in files_in(paths))
