"""What each cluster is: its size, the members nearest its centre, and a name.

- Text: candidate keywords by c-TF-IDF (a term's frequency in the cluster, weighted down by its frequency
  across clusters), kept only where most of the term's uses fall in that cluster (corpus-wide filler such as
  "having" or "used" does not), then re-ranked as KeyBERT's maximal marginal relevance does: each next keyword
  is the candidate whose embedding (by the collection's own model) is most similar to the cluster's centre
  and least similar to the keywords already chosen. Without a model that embeds words, c-TF-IDF's order.
- Table rows: the features whose cluster mean lies farthest from the overall mean, in standard deviations
  ("alcohol high, flavanoids low"), or a categorical value the cluster holds far more often than the rest.
- Images and precomputed vectors: the members' most frequent labels (an image's folder) where the items share a
  few labels; else, for images embedded by an ImageNet CNN, the members' most frequent ImageNet classes (poor on
  pictures unlike ImageNet's photos: "hatchet" for Fashion-MNIST's sneakers); else "cluster N".
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from embc.ingest.table_models import category
from embc.wording import shortened

REPRESENTATIVES = 3
KEYWORDS = 4
CANDIDATES = 20  # c-TF-IDF terms per cluster that the re-ranking chooses from
DIVERSITY = 0.4  # MMR: the weight of unlikeness to the keywords already chosen
FEATURES = 2  # table features in a name
EmbedWords = Callable[[list[str]], "np.ndarray | None"]  # words -> unit vectors in the collection's space


class BackgroundWords:
    """Embeds words with a model that loads in a background thread once `start` is called (a full run calls it
    before its page-out, so that the load overlaps the fit); None when it cannot (the names then keep
    c-TF-IDF's order)."""

    def __init__(self, load: Callable[[], EmbedWords], needs_torch: bool = True):
        self._load = load
        self._needs_torch = needs_torch
        self._thread: threading.Thread | None = None
        self._embed: EmbedWords | None = None

    def start(self) -> None:
        if self._thread is None:
            # torch imported here, not in the thread, when the load needs it: while a thread imports it,
            # scikit-learn's array-API check in this one finds a half-made `torch` in sys.modules and fails on
            # `torch.Tensor`. A model kept for OpenVINO needs none (importing it took 1-2 s and 450 MB).
            if self._needs_torch and importlib.util.find_spec("torch") is not None:
                importlib.import_module("torch")
            # Not a daemon: a job that fails early would end the process while the thread is inside torch's C++
            # code, which aborts it (SIGABRT, "FATAL: exception not rethrown") instead of exiting with its error.
            self._thread = threading.Thread(target=self._loading, name="embc-keyword-model")
            self._thread.start()

    def _loading(self) -> None:
        try:
            self._embed = self._load()
        except Exception:  # names are still made without it
            self._embed = None

    def __call__(self, words: list[str]) -> np.ndarray | None:
        self.start()
        self._thread.join()
        if self._embed is None:
            return None
        try:
            return self._embed(words)
        except Exception:  # a word model may know none of some words: names are made without it
            return None


def describe(X: np.ndarray, labels: np.ndarray, ids: Sequence[str], payloads: Sequence[dict],
             embed_words: EmbedWords | None = None) -> list[dict]:
    """One dict per cluster (noise included as -1): id, size, name, keywords, representatives."""
    centroids = {int(c): X[labels == c].mean(axis=0) for c in np.unique(labels)}
    texts = [p.get("text") for p in payloads]
    if any(texts):
        keywords = _keywords(texts, labels, centroids, embed_words)
    elif any(p.get("values") for p in payloads):
        keywords = _features([p.get("values") or {} for p in payloads], labels)
    else:
        given = [p.get("label") for p in payloads]
        named = [g for g in given if g is not None]
        shared = 2 <= len(set(named)) <= len(named) / 2  # labels that group the items, not one per item
        keywords = _frequent(given if shared else [p.get("imagenet_class") for p in payloads], labels)
    clusters = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        nearest = members[np.argsort(-(X[members] @ centroids[int(c)]))[:REPRESENTATIVES]]
        reps = [{"id": ids[i], "item": payloads[i].get("item"), "text": _snippet(payloads[i])} for i in nearest]
        words = keywords.get(int(c), [])
        name = "noise" if c < 0 else (", ".join(words) if words else f"cluster {c}")
        clusters.append({"id": int(c), "size": int(len(members)), "name": name, "keywords": words,
                         "representatives": reps})
    return clusters


def _snippet(payload: dict, width: int = 80) -> str | None:
    text = payload.get("text") or payload.get("item") or payload.get("path")
    if text is None:
        return None
    return shortened(" ".join(str(text).split()), width)


def _frequent(names: Sequence[str | None], labels: np.ndarray, top: int = 2, share: float = 0.25
              ) -> dict[int, list[str]]:
    """The most frequent of its members' names (labels or ImageNet classes) in each cluster: the first, and the
    next while they name at least `share` of the members that have one."""
    counts: dict[int, Counter] = {}
    for name, c in zip(names, labels):
        if name is not None and c >= 0:
            counts.setdefault(int(c), Counter())[name] += 1
    return {c: [name for n, (name, count) in enumerate(counter.most_common(top))
                if n == 0 or count >= share * counter.total()] for c, counter in counts.items()}


def _features(rows: Sequence[dict], labels: np.ndarray) -> dict[int, list[str]]:
    """Each cluster's most distinctive features: numeric ones by how far its mean lies from the overall mean
    (in standard deviations), categorical values by how much more often it holds them than all rows do."""
    clustered = labels >= 0
    scored: dict[int, list[tuple[float, str]]] = {int(c): [] for c in np.unique(labels[clustered])}
    for column in sorted({k for row in rows for k in row}):
        values = [category(row.get(column)) for row in rows]
        numbers = np.array([_number(v) for v in values], np.float64)
        if np.isfinite(numbers).sum() >= 0.9 * sum(v is not None for v in values) and np.isfinite(numbers).any():
            mean, std = np.nanmean(numbers), np.nanstd(numbers)
            for c in scored:
                inside = numbers[(labels == c) & np.isfinite(numbers)]
                if std > 0 and len(inside):
                    z = (inside.mean() - mean) / std
                    scored[c].append((abs(z), f"{column} {'high' if z > 0 else 'low'}"))
            continue
        overall = Counter(v for v in values if v is not None)
        for c in scored:
            inside = Counter(v for v, label in zip(values, labels) if v is not None and label == c)
            if inside:
                value, count = inside.most_common(1)[0]
                share, base = count / sum(inside.values()), overall[value] / sum(overall.values())
                # The same scale as a numeric feature's: how far this share lies above the base rate.
                scored[c].append(((share - base) / max(np.sqrt(base * (1 - base)), 1e-9), f"{column}={value}"))
    return {c: [name for score, name in sorted(pairs, reverse=True)[:FEATURES] if score >= 0.5]
            for c, pairs in scored.items()}


def _number(value) -> float:
    if isinstance(value, bool) or value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _keywords(texts: Sequence[str | None], labels: np.ndarray, centroids: dict[int, np.ndarray],
              embed_words: EmbedWords | None) -> dict[int, list[str]]:
    """Each cluster's keywords: distinctive c-TF-IDF candidates, re-ranked by MMR when words can be embedded."""
    candidates = _candidates(texts, labels)
    if embed_words is None or not candidates:
        return {c: words[:KEYWORDS] for c, words in candidates.items()}
    vocabulary = sorted({w for words in candidates.values() for w in words})
    embedded = embed_words(vocabulary)
    if embedded is None:
        return {c: words[:KEYWORDS] for c, words in candidates.items()}
    vectors = dict(zip(vocabulary, embedded))
    return {c: _mmr(words, [vectors[w] for w in words], centroids[c]) for c, words in candidates.items()}


def _mmr(words: list[str], vectors: list[np.ndarray], centre: np.ndarray) -> list[str]:
    """Maximal marginal relevance: each next word the most similar to the centre, less its similarity to the
    words already chosen."""
    if not words:  # no word is distinctive of the cluster (its texts are those of other clusters too)
        return []
    W = np.asarray(vectors, np.float32)
    relevance = W @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
    chosen: list[int] = []
    while len(chosen) < min(KEYWORDS, len(words)):
        redundancy = (W @ W[chosen].T).max(axis=1) if chosen else np.zeros(len(words))
        score = (1 - DIVERSITY) * relevance - DIVERSITY * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [words[i] for i in chosen]


def _candidates(texts: Sequence[str | None], labels: np.ndarray) -> dict[int, list[str]]:
    """c-TF-IDF's best CANDIDATES terms of each cluster, among those with most of their uses in it."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    clustered = [i for i, (t, c) in enumerate(zip(texts, labels)) if t and c >= 0]
    if not clustered:
        return {}
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b", min_df=2)
    try:
        counts = vectorizer.fit_transform([texts[i] for i in clustered])
    except ValueError:  # no term appears twice
        return {}
    cluster_ids, rows = np.unique(labels[clustered], return_inverse=True)
    membership = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                                   shape=(len(cluster_ids), len(rows)))
    per_cluster = (membership @ counts).toarray()
    tf = per_cluster / np.maximum(per_cluster.sum(axis=1, keepdims=True), 1)
    idf = np.log(1 + per_cluster.sum(axis=1).mean() / np.maximum(per_cluster.sum(axis=0), 1))
    scores = tf * idf
    # Filler is spread across clusters: keep a term where at least half of its uses are.
    share = per_cluster / np.maximum(per_cluster.sum(axis=0, keepdims=True), 1)
    scores[share < 0.5] = 0
    terms = vectorizer.get_feature_names_out()
    return {int(c): [str(terms[j]) for j in np.argsort(-scores[row])[:CANDIDATES] if scores[row, j] > 0]
            for row, c in enumerate(cluster_ids)}
