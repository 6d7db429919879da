"""A sentence-transformers model whose transformer runs on OpenVINO, in bf16 where the CPU multiplies it.

Measured on this project's machine (AMX, 2 cores, 2026-11-30), MiniLM on the WordNet sample, medians of five
alternated runs against torch fp32 `encode` (6.26 s): torch with bf16 weights 0.50x, OpenVINO in one stream
0.45x, OpenVINO in two streams of one core each with four requests in flight 0.35x; the least cosine to fp32
was 0.9999 for torch bf16 and 0.99997 for OpenVINO. Tokenising the next batch overlaps the inference of the
last one (OpenVINO lets go of the GIL). OpenVINO computes in bf16 by default only where the CPU has it, and
in fp32 elsewhere. int8 (NNCF's post-training quantisation, calibrated on other texts) measured 0.25-0.47x
against 0.34-0.42x for bf16 in the same runs, and some texts fell to cosine 0.52: not used.

The transformer is converted from the loaded torch model (the weights that ship, or the path the user gave),
never from a hub; the modules after it (pooling, normalisation) stay in torch, so any sentence-transformers
model whose first module is a text transformer runs unchanged. Converting MiniLM took 3-4 s, so the converted
model is kept (in the data directory's `openvino/`, under a digest of the weights and the OpenVINO version):
loading it from there took 0.5 s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.openvino_kept import converted, save

if TYPE_CHECKING:
    import openvino

REQUESTS_PER_STREAM = 2  # one request tokenised while the other runs


class OpenVinoSentenceModel:
    """`encode(texts, batch_size)` of a loaded SentenceTransformer, its transformer on OpenVINO."""

    def __init__(self, model: Any, cache: Path | None = None):
        import openvino

        first, self.tail = model[0], list(model)[1:]
        config = getattr(first, "modality_config", {}).get("text", {})
        if config.get("method") != "forward" or not isinstance(config.get("method_output_name"), str):
            raise EmbcError("its first module is not a text transformer that OpenVINO can run")
        self.preprocess = model.preprocess
        self.output_key = first.module_output_name
        ready = _kept(first.model, cache, lambda: transformer_converted(model))
        self.inputs = [port.get_any_name() for port in ready.inputs]
        self.compiled = openvino.Core().compile_model(ready, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
        self.output = self.compiled.output(config["method_output_name"])
        self.requests = REQUESTS_PER_STREAM * int(self.compiled.get_property("NUM_STREAMS"))
        self.dim = int(model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """One vector per text, in order, as the model's own `encode` gives them (before normalisation)."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # batches of similar length
        vectors = np.empty((len(texts), self.dim), np.float32)
        # Python and torch run only in this thread: OpenVINO's own threads run nothing but the model.
        requests = [self.compiled.create_infer_request() for _ in range(self.requests)]
        pending: list[tuple[list[int], dict] | None] = [None] * len(requests)

        def finish(slot: int) -> None:
            requests[slot].wait()
            indices, features = pending[slot]
            pending[slot] = None
            features[self.output_key] = torch.from_numpy(requests[slot].get_tensor(self.output).data.copy())
            with torch.no_grad():
                for module in self.tail:
                    features = module(features)
            vectors[indices] = features["sentence_embedding"].float().numpy()

        try:
            for n, start in enumerate(range(0, len(order), batch_size)):
                slot = n % len(requests)
                if pending[slot] is not None:
                    finish(slot)
                indices = order[start:start + batch_size]
                features = self.preprocess([texts[i] for i in indices])
                requests[slot].start_async({name: features[name].numpy() for name in self.inputs})
                pending[slot] = (indices, features)
            for slot, waiting in enumerate(pending):
                if waiting is not None:
                    finish(slot)
        finally:
            for request in requests:
                request.wait()  # nothing left running into this call's arrays
        return vectors


def transformer_converted(model: Any) -> openvino.Model:
    """A SentenceTransformer's first module's model (its transformer), traced on an example batch."""
    import torch

    example = {k: v for k, v in model.preprocess(["an example", "a longer example sentence"]).items()
               if isinstance(v, torch.Tensor)}
    return converted(model[0].model, example)


def _kept(module: Any, cache: Path | None, convert: Callable[[], openvino.Model]) -> openvino.Model:
    """The converted model kept in `cache` for these weights, or `convert()`, then kept there."""
    import openvino
    import torch

    if cache is None:
        return convert()
    digest = hashlib.blake2b(openvino.__version__.encode(), digest_size=16)
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().view(-1).view(torch.uint8).numpy())
    folder = cache / digest.hexdigest()
    if (folder / "model.xml").exists():
        return openvino.Core().read_model(folder / "model.xml")
    model = convert()
    save(model, cache, folder.name)
    return model
