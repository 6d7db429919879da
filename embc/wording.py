"""How numbers and stored text read in messages, tables and figure headings."""

import re

# C0 controls, DEL and C1 controls: ESC and CSI start the sequences that move a terminal's cursor, clear its
# screen, retitle its window or write its clipboard; a line break in a one-line message would forge another.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a table cell keeps its tabs and lines


def counted(n: int, noun: str) -> str:
    """`n` and a regular plural noun that agrees with it: "1 cluster", "0 clusters", "1600 points"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def shortened(text: str, width: int) -> str:
    """`text` cut to at most `width` characters at a word's end (keywords stay whole), '…' marking the cut."""
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    end = max(cut.rfind(" "), 0)
    return cut[:end].rstrip(" ,;:-") + "…" if end else cut + "…"


def quoted(name: object) -> str:
    """A name as an error shows it: quoted, and cut short when long."""
    text = repr(name)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(str(name))} characters)"


def visible(text: str, one_line: bool = True) -> str:
    """`text` with each control character written as an escape (`\\x1b`), so that what a document or a file
    name holds is shown to a terminal, never obeyed by it; with `one_line=False`, tabs and line breaks stay."""
    return (_CONTROLS if one_line else _CONTROLS_BUT_LAYOUT).sub(lambda match: f"\\x{ord(match.group()):02x}", text)
