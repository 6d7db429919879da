"""How numbers and stored text read in messages, tables and figure headings."""

import re

# C0 controls but tab and newline, DEL and C1 controls: ESC and CSI start the sequences that move a
# terminal's cursor, clear its screen, retitle its window or write its clipboard.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def counted(n: int, noun: str) -> str:
    """`n` and a regular plural noun that agrees with it: "1 cluster", "0 clusters", "1600 points"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def visible(text: str) -> str:
    """`text` with each control character written as an escape (`\\x1b`), so that what a document or a file
    name holds is shown to a terminal, never obeyed by it."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
