"""The number format neural models compute in: fp32, or bf16 when asked for (`EMBC_PRECISION=bf16`).

Measured on this project's machine (AMX, 2 cores, 2026-11-30): MiniLM with bf16 weights encoded the WordNet
sample in 0.41-0.50x of its fp32 time, every vector at cosine >= 0.9999 to the fp32 one; EfficientNet-Lite0
under autocast (`computing`) ran the forward pass over the Fashion-MNIST sample in 0.52-0.57x, cosine >=
0.993. The int8 ONNX MiniLM on ONNX Runtime was slower than fp32 here. bf16 pays only on CPUs that multiply
it in hardware (`bf16_in_hardware`); elsewhere torch emulates it, slower than fp32. Nor does it pay on every
CPU that does: on an Intel Xeon whose virtual machine shows AVX512-BF16 but hides AMX (2026-12-03), MiniLM took
1.41x its fp32 time on OpenVINO and 1.55x on torch, while EfficientNet-Lite0 took 0.62x. It is not the default: a
k-means fit of the slightly different vectors can land in another local minimum, and the quality floors of
tests/test_quality.py were measured at fp32. New text collections in bf16 run their transformer on OpenVINO
(`OPENVINO`; `embc.ingest.openvino_text`), 0.35x of the fp32 time against 0.50x for torch in bf16. A
collection keeps the precision it was made with, and its engine (`CollectionInfo.precision`: fp32, bf16 or
bf16-openvino), so its vectors are never a mix of two.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

from embc.errors import ParameterError

PRECISIONS = ("fp32", "bf16")
OPENVINO = "bf16-openvino"  # the precision recorded for a sentence-transformers model run on OpenVINO
BF16_FLAGS = {"amx_bf16", "avx512_bf16"}  # /proc/cpuinfo flags of CPUs with bfloat16 matrix arithmetic


def default_precision() -> str:
    """The precision of new collections: EMBC_PRECISION (fp32 or bf16), fp32 when it is not set."""
    chosen = os.environ.get("EMBC_PRECISION", "").strip().lower() or "fp32"
    if chosen not in PRECISIONS:
        raise ParameterError(f"EMBC_PRECISION must be fp32 or bf16, not {chosen!r}")
    return chosen


def bf16_in_hardware() -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16; Linux flags)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((set(line.split(":", 1)[1].split()) for line in info if line.startswith("flags")), set())
    except OSError:
        return False
    return bool(BF16_FLAGS & flags)


def computing(precision: str) -> AbstractContextManager:
    """Where a model's forward pass runs in `precision`: bf16 matrix products under torch's autocast."""
    if precision == "fp32":
        return nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)
