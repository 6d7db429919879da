"""The exception types that the CLI turns into a single line and exit code 1 (and the service into a 4xx), and
how any error reads to a user."""

import re
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from embc.wording import quoted, visible


class EmbcError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


class ParameterError(EmbcError, ValueError):
    """A parameter outside its allowed values, refused before any work; the message names the allowed ones."""


class NotFound(EmbcError, LookupError):
    """What a request names is not there: a collection, a cluster, an item, a run."""


def describe_error(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """An error as users read it: one line, its control characters written as escapes, with any credential (an
    API key, a password in a URL) masked. A path the system refused is named with the reason; other errors embc
    did not foresee name their type, and how to see the traceback."""
    text = visible(" ".join(str(exc).split())) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = visible(f"{quoted(str(exc.filename))}: {exc.strerror}")
    elif not isinstance(exc, EmbcError):
        text = f"{type(exc).__name__}: {text} (set EMBC_DEBUG=1 to see where)"
    return masked(text, secrets)


def masked(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """`text` with any credential masked: a password in a URL, and each of `secrets`."""
    text = re.sub(r"(://)[^/@\s]*@", r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@contextmanager
def writing_to(path: Path) -> Iterator[Path]:
    """Make the folder of a file the user named; an OSError while writing it (a folder of that name, a full
    disk, no permission) is an EmbcError that names the file, and the part written is removed."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder: name a file in it")
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
    except OSError as exc:
        with suppress(OSError):  # a path the system refused cannot be looked at either
            if path.is_file():
                path.unlink()
        raise EmbcError(f"cannot write {path}: {exc.strerror or exc}") from None
