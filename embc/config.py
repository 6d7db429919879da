"""Where embc keeps its data."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--data-dir`, else `EMBC_HOME`, else the platform's user data folder."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("EMBC_HOME"):
        return Path(os.environ["EMBC_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("embc"))
