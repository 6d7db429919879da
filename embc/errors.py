"""The exception types that the CLI turns into a single line and exit code 1 (and the service into a 4xx), and
how any error reads to a user."""

import re


class EmbcError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


class ParameterError(EmbcError, ValueError):
    """A parameter outside its allowed values, refused before any work; the message names the allowed ones."""


class NotFound(EmbcError, LookupError):
    """What a request names is not there: a collection, a cluster, an item, a run."""


def describe_error(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """An error as users read it: one line, with any credential (an API key, a password in a URL) masked.
    Errors embc did not foresee name their type, and how to see the traceback."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, EmbcError):
        text = f"{type(exc).__name__}: {text} (set EMBC_DEBUG=1 to see where)"
    text = re.sub(r"(://)[^/@\s]*@", r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
