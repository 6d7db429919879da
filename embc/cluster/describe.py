"""What each cluster is: its size, representative members and a name (c-TF-IDF keywords for text, the most
frequent ImageNet classes for images embedded by an ImageNet CNN)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

REPRESENTATIVES = 3
KEYWORDS = 4


def describe(X: np.ndarray, labels: np.ndarray, ids: Sequence[str], payloads: Sequence[dict]) -> list[dict]:
    """One dict per cluster (noise included as -1): id, size, name, keywords, representatives."""
    texts = [p.get("text") for p in payloads]
    if any(texts):
        keywords = _keywords(texts, labels)
    else:
        keywords = _frequent([p.get("imagenet_class") for p in payloads], labels)
    clusters = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        centroid = X[members].mean(axis=0)
        nearest = members[np.argsort(-(X[members] @ centroid))[:REPRESENTATIVES]]
        reps = [{"id": ids[i], "item": payloads[i].get("item"), "text": _snippet(payloads[i])} for i in nearest]
        words = keywords.get(int(c), [])
        name = "noise" if c < 0 else (", ".join(words) if words else reps[0]["text"] or f"cluster {c}")
        clusters.append({"id": int(c), "size": int(len(members)), "name": name, "keywords": words,
                         "representatives": reps})
    return clusters


def _snippet(payload: dict, width: int = 80) -> str | None:
    text = payload.get("text") or payload.get("item") or payload.get("path")
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _frequent(classes: Sequence[str | None], labels: np.ndarray, top: int = 2) -> dict[int, list[str]]:
    """The most frequent ImageNet classes of each cluster's members (for images embedded by a CNN)."""
    counts: dict[int, Counter] = {}
    for name, c in zip(classes, labels):
        if name is not None and c >= 0:
            counts.setdefault(int(c), Counter())[name] += 1
    return {c: [name for name, _ in counter.most_common(top)] for c, counter in counts.items()}


def _keywords(texts: Sequence[str | None], labels: np.ndarray) -> dict[int, list[str]]:
    """c-TF-IDF: a term's frequency in a cluster, weighted down by its frequency across all clusters."""
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
    terms = vectorizer.get_feature_names_out()
    return {int(c): [str(terms[j]) for j in np.argsort(-scores[row])[:KEYWORDS] if scores[row, j] > 0]
            for row, c in enumerate(cluster_ids)}
