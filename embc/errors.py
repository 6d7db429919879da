"""The one exception type that the CLI turns into a single line and exit code 1."""


class EmbcError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""
