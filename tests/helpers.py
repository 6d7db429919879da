"""Helpers the tests import: paths of the sample data and the real `embc` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDNET = ROOT / "examples" / "wordnet-nouns-8.jsonl"
FASHION = ROOT / "images" / "samples" / "fashion-mnist-600"


def run_embc(*args: str, home: Path | None = None, env: dict | None = None, timeout: float = 300):
    """The real `embc` command in a subprocess: exit code, stdout and stderr as a user sees them."""
    full_env = {**os.environ, **(env or {})}
    if home is not None:
        full_env["EMBC_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "embc", *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def recluster(store, reports, *args, **kwargs) -> dict:
    """The recluster job on a store and the report store of a data directory laid out as a Workspace's."""
    from embc.cluster.job import recluster as job
    from embc.layout import Layout

    return job(store, reports, *args, vectors_dir=Layout(reports.path.parent).vectors, **kwargs)
