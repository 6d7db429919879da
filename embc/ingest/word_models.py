"""Word-vector text embedders: `word2vec`, trained with gensim on the collection's own texts and saved in its
model folder, and `glove:PATH`, pretrained vectors from a GloVe text file (or a word2vec text or binary file).

A document's vector is the SIF-weighted mean of its known words' vectors (Arora et al., 2017): a word of
probability p weighs a / (a + p), so frequent words count little. Words outside the vocabulary are left out
and counted; a document with no known word is skipped with that reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.embedders import normalise
from embc.ingest.items import Item, ItemError
from embc.ingest.model_seal import check, seal

SIF_A = 1e-3
TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
WORD2VEC = {"vector_size": 100, "window": 5, "min_count": 2, "sg": 1, "epochs": 40}


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class WordVectorEmbedder:
    """SIF-weighted means of word vectors from gensim `KeyedVectors` (`vectors`), with word probabilities."""

    modality = "text"
    precision = "fp32"

    def __init__(self, name: str, weights: str | None = None):
        self.name = name
        self.weights = weights
        self.vectors = None
        self.probability: dict[str, float] = {}
        self.unknown_words = 0
        self.words = 0
        if name.startswith("glove:"):
            self._load_pretrained(Path(name.split(":", 1)[1]))
        elif weights and (Path(weights) / "word2vec.kv").exists():
            self._load_trained(Path(weights))

    @property
    def dim(self) -> int:
        return int(self.vectors.vector_size)

    def fit(self, items: Sequence[Item]) -> None:
        """Train word2vec on these texts and save it in the model folder."""
        from gensim.models import Word2Vec

        sentences = [tokens(item.text or "") for item in items]
        if sum(map(len, sentences)) == 0:
            raise EmbcError("word2vec has no words to learn from")
        # One worker: the same corpus and seed give the same vectors on every machine.
        model = Word2Vec(sentences, seed=0, workers=1, **{**WORD2VEC, "min_count": _min_count(sentences)})
        folder = Path(self.weights)
        folder.mkdir(parents=True, exist_ok=True)
        model.wv.save(str(folder / "word2vec.kv"))
        seal(folder)
        self._load_trained(folder)

    def prepare(self, item: Item) -> list[str]:
        """The item's words that have vectors (runs ahead of `embed`); none is an error that skips the item."""
        words = tokens(item.text or "")
        known = [w for w in words if w in self.vectors.key_to_index]
        if not words:
            raise ItemError("it has no words, only digits and punctuation")
        if not known:
            raise ItemError(f"none of its {len(words)} words is in the {self.name} vocabulary")
        item.tags["unknown_words"] = len(words) - len(known)
        return known

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), np.float32)
        for row, item in enumerate(items):
            known = item.prepared if item.prepared is not None else self.prepare(item)
            self.unknown_words += item.tags.get("unknown_words", 0)
            self.words += len(known) + item.tags.get("unknown_words", 0)
            weights = np.array([SIF_A / (SIF_A + self.probability.get(w, 0.0)) for w in known], np.float32)
            out[row] = weights @ self.vectors[known] / weights.sum()
        return normalise(out)

    def notes(self) -> dict:
        """Words seen and left out for want of a vector, for the ingest summary."""
        return {"words": self.words, "unknown_words": self.unknown_words}

    def _load_trained(self, folder: Path) -> None:
        from gensim.models import KeyedVectors

        check(folder)
        self.vectors = KeyedVectors.load(str(folder / "word2vec.kv"))
        counts = np.array([self.vectors.get_vecattr(w, "count") for w in self.vectors.index_to_key], float)
        self.probability = dict(zip(self.vectors.index_to_key, counts / counts.sum()))

    def _load_pretrained(self, path: Path) -> None:
        from gensim.models import KeyedVectors

        if not path.is_file():
            raise EmbcError(f"no word-vector file '{path}'")
        if not path.stat().st_size:
            raise EmbcError(f"cannot read word vectors from '{path}': the file is empty")
        binary = path.suffix == ".bin"
        try:
            header = binary or _has_header(path)
            self.vectors = KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=not header)
        except Exception as exc:  # gensim raises several types for a malformed file
            raise EmbcError(f"cannot read word vectors from '{path}': {exc}") from exc
        if not len(self.vectors.index_to_key) or self.vectors.vector_size < 1:
            raise EmbcError(f"cannot read word vectors from '{path}': no word in it has a vector")
        # Such files list words from the most frequent down and carry no counts: Zipf's law estimates them.
        ranks = np.arange(1, len(self.vectors.index_to_key) + 1, dtype=float)
        self.probability = dict(zip(self.vectors.index_to_key, (1 / ranks) / (1 / ranks).sum()))


def _has_header(path: Path) -> bool:
    """word2vec text files start with "COUNT DIM"; GloVe files start with a word and its vector."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def _min_count(sentences: list[list[str]]) -> int:
    # A small corpus keeps words seen once: dropping them would leave short texts with no known word.
    return WORD2VEC["min_count"] if sum(map(len, sentences)) > 100_000 else 1
