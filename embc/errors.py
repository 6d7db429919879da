"""The exception types that the CLI turns into a single line and exit code 1."""


class EmbcError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


class ParameterError(EmbcError, ValueError):
    """A parameter outside its allowed values, refused before any work; the message names the allowed ones."""
