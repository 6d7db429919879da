"""Models trained on a collection's own items are saved as pickles (scikit-learn, gensim), and unpickling runs
code. embc loads only the files it wrote itself: each save seals the model's folder with an HMAC-SHA256 of every
file in it, under a key kept beside the models' folders (created once, readable by its owner only), and each
load checks the seal first."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from embc.errors import EmbcError

SEAL = "seal.json"
KEY = ".seal-key"


def _key(folder: Path) -> bytes:
    path = folder.parent / KEY
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        key = secrets.token_bytes(32)
        handle.write(key)
    return key


def _macs(folder: Path, key: bytes) -> dict[str, str]:
    return {file.name: hmac.new(key, file.read_bytes(), hashlib.sha256).hexdigest()
            for file in sorted(folder.iterdir()) if file.is_file() and file.name != SEAL}


def seal(folder: Path) -> None:
    """Record that embc wrote every file now in `folder`."""
    folder = Path(folder)
    (folder / SEAL).write_text(json.dumps(_macs(folder, _key(folder)), indent=1))


def check(folder: Path) -> None:
    """Refuse (EmbcError) to load a model folder whose files embc did not write, or that changed since."""
    folder = Path(folder)
    key_path = folder.parent / KEY
    try:
        recorded = json.loads((folder / SEAL).read_text())
        key = key_path.read_bytes()
    except (OSError, ValueError):
        recorded, key = None, b""
    if not recorded or not hmac.compare_digest(json.dumps(_macs(folder, key), sort_keys=True),
                                               json.dumps(recorded, sort_keys=True)):
        raise EmbcError(f"the model files in {folder} were not written by embc, or changed since: embc will not "
                        "load them (loading a pickle runs code). Remove the folder, or ingest again, retraining")
