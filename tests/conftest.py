"""Shared fixtures: real stores (embedded Qdrant, QdrantClient(":memory:"), a live server when configured),
the real MiniLM model, and the real WordNet sample."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import WORDNET

STORE_KINDS = ["embedded", "memory-server"] + (["live-server"] if os.environ.get("EMBC_TEST_QDRANT_URL") else [])


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    """Each Store adapter, fresh and empty."""
    if request.param == "embedded":
        from embc.store.embedded import EmbeddedStore

        yield EmbeddedStore(tmp_path / "collections")
        return
    from qdrant_client import QdrantClient

    from embc.store.server import ServerStore

    if request.param == "memory-server":
        yield ServerStore(QdrantClient(":memory:"))
        return
    live = ServerStore.connect(os.environ["EMBC_TEST_QDRANT_URL"], os.environ.get("EMBC_TEST_QDRANT_API_KEY"))
    before = {c.name for c in live.collections()}
    yield live
    for info in live.collections():
        if info.name not in before:
            live.delete_collection(info.name)


@pytest.fixture(scope="session")
def minilm():
    from embc.ingest.registry import load_embedder

    return load_embedder("minilm")


@pytest.fixture(scope="session")
def clip_weights(tmp_path_factory) -> Path:
    """A CLIP ViT-S-32's weights, saved from a randomly initialised model (no hub is reachable here): for tests of
    plumbing, not of quality."""
    import open_clip
    import torch

    path = tmp_path_factory.mktemp("clip") / "vit-s-32.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def wordnet_rows() -> list[dict]:
    return [json.loads(line) for line in WORDNET.read_text().splitlines()]


@pytest.fixture(scope="session")
def wordnet_vectors(minilm, wordnet_rows) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A quarter of the WordNet sample: its vectors, scikit-learn's k-means labels at k=8, the true labels."""
    from sklearn.cluster import KMeans

    from embc.ingest.items import Item

    rows = wordnet_rows[::4]
    X = minilm.embed([Item(key=r["id"], source="wn", kind="text", text=r["text"]) for r in rows])
    labels = KMeans(8, n_init=1, random_state=0).fit(X).labels_
    return X, labels, [r["label"] for r in rows]


@pytest.fixture(scope="session")
def clustered_home(tmp_path_factory) -> Path:
    """A data directory holding the WordNet sample, ingested and clustered at k=8 through the library."""
    from embc import Workspace

    ws = Workspace(tmp_path_factory.mktemp("wordnet-home"))
    assert ws.ingest("wordnet", WORDNET).added == 1600
    ws.recluster("wordnet", "kmeans", k=8, seed=0)
    return ws.path
