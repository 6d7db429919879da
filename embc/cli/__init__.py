"""The `embc` command line: thin commands over `embc.Workspace`."""

import os
import sys
import warnings

from embc.cli.app import app
from embc.cli import decode, ingest, manage, plot, query, recluster, report, serve  # noqa: F401,E402  (each module adds its commands)


def main() -> None:
    if not os.environ.get("EMBC_DEBUG"):
        # Libraries' warnings (convergence, deprecations) are not for embc's users; EMBC_DEBUG=1 shows them.
        warnings.simplefilter("ignore")
    try:
        app()
    except BrokenPipeError:
        # The reader of stdout has gone (`embc export --out - | head`): stop quietly, as `cat` does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
