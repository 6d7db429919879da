"""A collection's trained decoder: its network and what it was trained on, kept in the collection's model
folder (the weights as a torch state dict, loaded without unpickling; the facts as JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from embc.errors import EmbcError, NotFound

WEIGHTS, FACTS = "decoder.pt", "decoder.json"
OLD_WIDTH = 128  # the width of image decoders kept before their facts recorded it


@dataclass
class Decoder:
    """`kind` image (the network draws `size` x `size` RGB images) or row (`size` scaled features)."""

    kind: str
    dim: int
    size: int
    # model, items, points, epochs, best_epoch, same_cluster, trained_at, width
    facts: dict = field(default_factory=dict)
    net: object = None

    @classmethod
    def new(cls, kind: str, dim: int, size: int, **facts) -> Decoder:
        from embc.decode.networks import WIDTH, image_decoder, row_decoder

        if kind == "image":
            net = image_decoder(dim, size, facts.setdefault("width", WIDTH))
        else:
            net = row_decoder(dim, size)
        return cls(kind, dim, size, facts, net)

    def decode(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors (each made unit length, as the stored ones are) to images (n x size x size x 3 uint8) or to
        scaled feature rows (n x size)."""
        import torch

        X = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        with torch.inference_mode():
            out = self.net(torch.from_numpy(X))
        if self.kind == "row":
            return out.numpy()
        return (out.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    def save(self, folder: Path) -> None:
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), folder / WEIGHTS)
        self.facts = {**self.facts, "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        (folder / FACTS).write_text(json.dumps({"kind": self.kind, "dim": self.dim, "size": self.size, **self.facts},
                                               indent=1))

    @classmethod
    def load(cls, folder: Path) -> Decoder:
        """The decoder kept in `folder`; EmbcError when it cannot be read (or a file of it is missing)."""
        import torch

        try:
            facts = json.loads((folder / FACTS).read_text())
            if facts.get("kind") == "image":
                facts.setdefault("width", OLD_WIDTH)
            decoder = cls.new(facts.pop("kind"), facts.pop("dim"), facts.pop("size"), **facts)
            decoder.net.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise EmbcError(f"the decoder in {folder} cannot be read ({exc}): train it again") from None
        decoder.net.eval()
        return decoder


def exists(folder: Path) -> bool:
    return (folder / FACTS).is_file()


def missing(collection: str) -> NotFound:
    return NotFound(f"collection '{collection}' has no decoder: train one first")
