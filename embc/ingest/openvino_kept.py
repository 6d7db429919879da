"""Models converted for OpenVINO, kept in the data directory's `openvino/` so that the next process reads them
instead of converting them again (converting takes seconds and needs torch; reading needs neither)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    import openvino

SOURCE = "source.txt"  # beside a kept model: what it was converted from
MODEL = "model"  # a kept model's file stem
COMPILED = "compiled"  # beside a kept model: OpenVINO's cache of it, compiled


def converted(module: Any, example: Any) -> openvino.Model:
    """A torch module, traced on an example input."""
    import openvino
    import torch

    _no_telemetry()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the model's code are not for embc's users
        return openvino.convert_model(module, example_input=example)


def _no_telemetry() -> None:
    """OpenVINO's converter sends usage statistics unless a file in the user's home says not to, each from a
    process it forks: embc sends nothing anywhere, and a fork beside running threads hung a recluster (its keywords'
    model converted while the k-means sweep ran). Its own stand-in for when the telemetry package is missing sends
    nothing."""
    import importlib

    from openvino.tools.ovc import telemetry_stub

    for name in ("convert_impl", "telemetry_utils", "utils"):
        module = importlib.import_module(f"openvino.tools.ovc.{name}")
        if hasattr(module, "tm"):
            module.tm = telemetry_stub


def save(model: openvino.Model, cache: Path, name: str, beside: dict[str, str] | None = None,
         source: str | None = None, others: dict[str, openvino.Model] | None = None) -> None:
    """Keep a converted model as `cache/name/model.xml`, with the files `beside` (name: text) it needs and the
    `others` models it goes with (stem: model, as `STEM.xml`), whole or not at all. A `source` (what it was
    converted from) is kept beside it, and the conversions of that source kept before under other names (from
    files since changed, or by another OpenVINO) are removed."""
    import openvino

    cache.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=cache, prefix=".part-"))
    for stem, network in ({MODEL: model} | (others or {})).items():
        openvino.save_model(network, part / f"{stem}.xml", compress_to_fp16=False)
    for file, text in ((beside or {}) | ({SOURCE: source} if source else {})).items():
        (part / file).write_text(text)
    try:
        os.replace(part, cache / name)  # another process may have kept it first
    except OSError:
        shutil.rmtree(part, ignore_errors=True)
    for earlier in cache.glob(f"[!.]*/{SOURCE}") if source else ():
        with suppress(OSError):
            if earlier.parent.name != name and earlier.read_text() == source:
                shutil.rmtree(earlier.parent)


def files_digest(prefix: str, files: Iterable[Path], root: Path | None = None) -> str:
    """The name a model converted from `files` is kept under: `prefix`, then a digest of each file's name (relative
    to `root`), size and time, and of the OpenVINO version; a file that changes gives another name."""
    return digest_name(prefix, stats(files, root))


def stats(files: Iterable[Path], root: Path | None = None) -> list[str]:
    """Each file's name (relative to `root`), size and time: what tells that one changed."""
    return [f"{path if root is None else path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}"
            for path, stat in ((p, p.stat()) for p in sorted(files))]


def digest_name(prefix: str, parts: Iterable[str]) -> str:
    """The name a model converted from what `parts` name is kept under: `prefix`, then a digest of the parts and
    of the OpenVINO version."""
    import openvino

    digest = hashlib.blake2b(openvino.__version__.encode(), digest_size=16)
    for part in parts:
        digest.update(f"{part}\0".encode())
    return f"{prefix}-{digest.hexdigest()}"


def compiled_kept(cache: Path, name: str, stem: str = MODEL) -> openvino.CompiledModel | None:
    """The model kept as `cache/name` (or one it goes with, by its `stem`), compiled for the CPU in fp32 (even
    where the CPU multiplies bf16, as fp32 collections' items were embedded); None when none is kept. The compiled
    model is kept beside it, in `compiled/` (one for each kind of processor), and read back by the next process: a
    quarter to a half of the time a compile takes, for as much disk again as the model's weights."""
    import openvino

    if not kept_in(cache, name):
        return None
    core = openvino.Core()
    model, settings = str(cache / name / f"{stem}.xml"), {"INFERENCE_PRECISION_HINT": "f32"}
    try:  # from the file's name, so that a compiled model read back needs the model itself not read at all
        return core.compile_model(model, "CPU", settings | {"CACHE_DIR": str(cache / name / COMPILED)})
    except RuntimeError:  # a data directory that cannot be written to
        return core.compile_model(model, "CPU", settings)


def kept_in(cache: Path, name: str) -> bool:
    """Whether a converted model is kept in `cache` as `name` (with the models it goes with: they are kept at
    once)."""
    return (cache / name / f"{MODEL}.xml").is_file()
