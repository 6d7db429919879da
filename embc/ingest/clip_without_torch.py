"""CLIP without torch: an fp32 CLIP collection embeds its images and texts on OpenVINO, items and queries alike.

A CLIP model's image and text encoders are converted from the torch model the first time a process needs them and
kept together in the data directory's `openvino/`, under a digest of the model's name and of its weights file (for
weights open_clip downloads by their tag, of open_clip's version) and the OpenVINO version. Images go through the
same PIL and numpy transform as before. Texts are cleaned and split into words as open_clip does, and its BPE, kept
beside the encoders as a `tokenizers` model, makes the same tokens, so that a question needs neither torch nor
open_clip, which imports it. On 2 cores of an Intel Xeon, a question to a ViT-B/32 collection from a new process took
1.4-2.0 s and 0.6-0.9 GB instead of 7.4-9.9 s and 2.0 GB. Models with another tokenizer (from a hub, or with a
syntax mask), and collections made in bf16, run on torch as before.
"""

from __future__ import annotations

import html
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from embc.ingest.embedders import normalise
from embc.ingest.image_models import clip_transform, pixels
from embc.ingest.items import Item
from embc.ingest.openvino_kept import compiled_kept, converted, digest_name, kept_in, save, stats
from embc.ingest.registry import names_a_path

TEXTS = "texts"  # the text encoder's file stem, beside the image encoder's
TOKENIZER = "tokenizer.json"
SETTINGS = "clip.json"  # the image size and scaling, the vectors' size, the context length, the special tokens
WORDS = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""  # open_clip's split, after special tokens


class ClipWithoutTorch:
    """A CLIP embedder's `prepare` and `embed`, its encoders on OpenVINO, each compiled when first needed (an image
    question needs no text encoder)."""

    modality = "image"
    precision = "fp32"
    batch_size = 32

    def __init__(self, name: str, weights: str | None, folder: Path):
        import regex
        from tokenizers import Tokenizer

        self.name, self.weights, self.folder = name, weights, folder
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        settings = json.loads((folder / SETTINGS).read_text())
        # Words are split by the same `regex` pattern as open_clip's: Oniguruma, which `tokenizers` splits with,
        # tells some code points (unassigned ones) apart from their neighbours where it does not.
        self.words = regex.compile("|".join(map(regex.escape, settings["specials"])) + "|" + WORDS, regex.IGNORECASE)
        self.transform = clip_transform(settings["size"], settings["mean"], settings["std"])
        self.context, self.start, self.end, self.dim = (settings[k] for k in ("context_length", "start", "end", "dim"))

    @cached_property
    def images(self) -> Any:
        return compiled_kept(self.folder.parent, self.folder.name)

    @cached_property
    def texts(self) -> Any:
        return compiled_kept(self.folder.parent, self.folder.name, TEXTS)

    def prepare(self, item: Item) -> np.ndarray | None:
        return None if item.kind == "text" else pixels(self.transform, item)

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        out = np.empty((len(items), self.dim), np.float32)
        texts = [n for n, item in enumerate(items) if item.kind == "text"]
        images = [n for n, item in enumerate(items) if item.kind != "text"]
        # A request per call: ingests run beside queries.
        if texts:
            tokens = self.tokens([items[n].text for n in texts])
            out[texts] = normalise(self.texts.create_infer_request().infer(tokens)[0])
        if images:
            batch = np.stack([items[n].prepared if items[n].prepared is not None else self.prepare(items[n])
                              for n in images])
            out[images] = normalise(self.images.create_infer_request().infer(batch)[0])
        return out

    def tokens(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' tokens as open_clip gives them: between the start and end tokens, cut to the context length
        (still ending with the end token), padded with zeros."""
        tokens = np.zeros((len(texts), self.context), np.int64)
        for row, text in zip(tokens, texts):
            words = self.words.findall(_cleaned(text))
            split = self.tokenizer.encode(words, is_pretokenized=True, add_special_tokens=False).ids if words else []
            ids = [self.start, *split][:self.context - 1] + [self.end]
            row[:len(ids)] = ids
        return tokens


def _cleaned(text: str) -> str:
    """open_clip's cleaning of a text: mojibake and HTML entities mended, whitespace collapsed, lower case."""
    import ftfy

    return " ".join(html.unescape(html.unescape(ftfy.fix_text(text))).split()).lower()


def _kept_as(model: str, weights: str | None) -> tuple[str, str] | None:
    """The name the model's converted encoders are kept under, and what they are converted from; None for a model
    that names no weights, or a weights file that is not there."""
    pretrained = model.split(":", 1)[1].partition("/")[2]
    file = weights or (pretrained if names_a_path(model) else None)
    if file is None:
        if not pretrained:
            return None
        from importlib.metadata import version

        # Read without importing open_clip (which imports torch): its version decides what a tag downloads, and
        # another version's conversion replaces this one.
        source = f"{model} as open_clip downloads it"
        return digest_name("clip", [source, version("open_clip_torch")]), source
    path = Path(file).expanduser()
    if not path.is_file():
        return None
    return digest_name("clip", [model, *stats([path.resolve()])]), f"{model} {path.resolve()}"


def is_kept(model: str, weights: str | None, cache: Path) -> bool:
    """Whether the model's converted encoders are kept in `cache` (its embedder then loads without torch)."""
    found = _kept_as(model, weights)
    return found is not None and kept_in(cache, found[0])


def kept(model: str, weights: str | None, cache: Path) -> ClipWithoutTorch | None:
    """The model's embedder without torch if its converted encoders are kept in `cache`; None if not."""
    found = _kept_as(model, weights)
    return ClipWithoutTorch(model, weights, cache / found[0]) if found and kept_in(cache, found[0]) else None


def keep(embedder: Any, cache: Path) -> ClipWithoutTorch | None:
    """Convert a loaded CLIP embedder's image and text encoders and keep them in `cache` with its tokenizer: the
    embedder without torch they make, or None for a model whose tokenizer is not open_clip's own BPE."""
    import torch
    from open_clip.tokenizer import SimpleTokenizer, get_clean_fn

    found = _kept_as(embedder.name, embedder.weights)
    simple = embedder.tokenizer
    if (found is None or type(simple) is not SimpleTokenizer or simple.reduction_fn is not None
            or simple.clean_fn is not get_clean_fn("lower")):
        return None
    name, source = found

    class Encoder(torch.nn.Module):
        def __init__(self, encode):
            super().__init__()
            self.model, self.encode = embedder.model, encode

        def forward(self, batch):
            return self.encode(batch)

    size = embedder.transform.size
    mean, std = embedder.transform.scaling
    settings = {"size": size, "mean": list(mean), "std": list(std), "context_length": simple.context_length,
                "start": simple.sot_token_id, "end": simple.eot_token_id, "dim": embedder.dim,
                "specials": [simple.decoder[i] for i in simple.all_special_ids]}
    images = converted(Encoder(embedder.model.encode_image).eval(), torch.zeros(1, 3, size, size))
    texts = converted(Encoder(embedder.model.encode_text).eval(), simple(["a photo"]))
    save(images, cache, name, {TOKENIZER: _tokenizer(simple).to_str(), SETTINGS: json.dumps(settings)},
         source=source, others={TEXTS: texts})
    return ClipWithoutTorch(embedder.name, embedder.weights, cache / name)


def _tokenizer(simple: Any) -> Any:
    """open_clip's BPE (`SimpleTokenizer`) as a `tokenizers` model: the same tokens for the words of a cleaned
    text, each as bytes."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    merges = sorted(simple.bpe_ranks, key=simple.bpe_ranks.get)
    tokenizer = Tokenizer(models.BPE(vocab=dict(simple.encoder), merges=merges, continuing_subword_prefix="",
                                     end_of_word_suffix="</w>", fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.add_special_tokens([simple.decoder[i] for i in simple.all_special_ids])
    return tokenizer
