"""The files inside a compiled Qt resource file (`.rcc`, formats 1-3), as GCompris ships its pictures: no Qt
tool reads one back. Layout (Qt's rcc.cpp): a header of magic `qres`, format version, and the offsets of the
tree, the data and the names; the tree is a table of nodes (a name, flags, and a directory's children or a
file's data); a file's data is its length and bytes, zlib-compressed behind a 4-byte size when flag 1 is set."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

DIRECTORY = 2
ZLIB = 1
ZSTD = 4


def read_rcc(path: Path) -> dict[str, bytes]:
    """Every file in the resource file at `path`, by its path inside it."""
    blob = path.read_bytes()
    if blob[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">4I", blob[4:20])
    node_size = 22 if version >= 2 else 14  # format 2 added each node's modification time
    files: dict[str, bytes] = {}

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        start = names + offset + 6  # after the length and the name's hash
        return blob[start:start + 2 * length].decode("utf-16-be")

    def walk(node: int, prefix: str) -> None:
        at = tree + node * node_size
        name_offset, flags = struct.unpack(">IH", blob[at:at + 6])
        path_here = f"{prefix}/{name(name_offset)}" if node else ""
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", blob[at + 6:at + 14])
            for child in range(first, first + count):
                walk(child, path_here)
            return
        (offset,) = struct.unpack(">I", blob[at + 10:at + 14])
        (length,) = struct.unpack(">I", blob[data + offset:data + offset + 4])
        content = blob[data + offset + 4:data + offset + 4 + length]
        if flags & ZSTD:
            raise ValueError(f"{path}: {path_here} is zstd-compressed, which this reader does not handle")
        files[path_here.lstrip("/")] = zlib.decompress(content[4:]) if flags & ZLIB else content

    walk(0, "")
    return files
