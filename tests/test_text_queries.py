"""Query texts embedded without torch: the same vectors as the torch model's, the converted transformer kept by
the first process that asks and read by the next, and models of other shapes left to sentence-transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from embc import Workspace
from embc.ingest import text_queries
from embc.ingest.items import Item
from embc.ingest.text_models import model_folder
from helpers import WORDNET

TEXTS = ["a breed of hunting dog", "", "Ünïcode, CAPITALS and emoji 🐕", "word " * 400,
         "a longer sentence about the weather in the mountains of northern Italy in late autumn"]


def items(texts):
    return [Item(key=str(n), source="test", kind="text", text=t) for n, t in enumerate(texts)]


def test_minilm_queries_without_torch_are_the_torch_models_vectors(minilm, tmp_path):
    root = model_folder("minilm")
    assert text_queries.kept("minilm", root, tmp_path) is None
    text_queries.keep(minilm.model, root, tmp_path)
    fast = text_queries.kept("minilm", root, tmp_path)
    assert fast is not None and fast.dim == 384
    # One text at a time and all at once (padded to the longest, 256 tokens after truncation).
    wanted = minilm.embed(items(TEXTS))
    assert np.abs(fast.embed(items(TEXTS)) - wanted).max() < 1e-5
    assert np.abs(np.vstack([fast.embed(items([t])) for t in TEXTS]) - wanted).max() < 1e-5


def test_a_model_pooled_by_its_first_token_is_pooled_so(tmp_path):
    from sentence_transformers import SentenceTransformer

    root = tmp_path / "cls-minilm"
    shutil.copytree(model_folder("minilm"), root)
    pooling = root / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    model = SentenceTransformer(str(root), device="cpu")
    text_queries.keep(model, root, tmp_path / "kept")
    fast = text_queries.kept(f"sentence-transformers:{root}", root, tmp_path / "kept")
    wanted = model.encode(TEXTS, normalize_embeddings=True)
    assert fast.plan.pooling == "cls" and np.abs(fast.embed(items(TEXTS)) - wanted).max() < 1e-5


@pytest.mark.parametrize("change", ["dense", "max pooling", "prompt", "no tokenizer"])
def test_models_of_other_shapes_answer_through_sentence_transformers(tmp_path, change):
    root = tmp_path / "model"
    shutil.copytree(model_folder("minilm"), root)
    assert text_queries.plan(root) is not None
    if change == "dense":
        modules = json.loads((root / "modules.json").read_text())
        modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        (root / "modules.json").write_text(json.dumps(modules))
    elif change == "max pooling":
        pooling = root / "1_Pooling" / "config.json"
        pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode_max_tokens": True}))
    elif change == "prompt":
        (root / "config_sentence_transformers.json").write_text(json.dumps({"default_prompt_name": "query"}))
    else:
        (root / "tokenizer.json").unlink()
    assert text_queries.plan(root) is None


def test_a_new_process_answers_a_text_query_without_torch(tmp_path):
    """The first process that asks converts the transformer (and answers with torch); the next ones find it
    kept, answer the same without importing torch, and the CLI says the same."""
    home = tmp_path / "home"
    rows = [json.loads(line) for line in WORDNET.read_text().splitlines()][::8]
    with Workspace(home) as ws:
        ws.ingest("wordnet", rows)
        names = [c.name for c in ws.recluster("wordnet", k=8, seed=0, projection="none").clusters]
    ask = ("from embc import Workspace; import json, sys\n"
           f"with Workspace({str(home)!r}) as ws:\n"
           "    found = ws.similar('wordnet', text='a breed of hunting dog', limit=5)\n"
           "print(json.dumps([[e.item, round(e.score, 5)] for e in found]), 'torch' in sys.modules)")
    answers = [subprocess.run([sys.executable, "-c", ask], capture_output=True, text=True, timeout=300)
               for _ in range(2)]
    assert all(a.returncode == 0 for a in answers), answers
    (first, loaded), (second, without) = (a.stdout.rsplit(" ", 1) for a in answers)
    assert (loaded.strip(), without.strip()) == ("True", "False")
    assert json.loads(first) == json.loads(second) and len(json.loads(first)) == 5
    assert [p.name.startswith("queries-") for p in (home / "openvino").iterdir()] == [True]
    # A recluster's keywords, which name the clusters, are embedded the same way.
    refit = ("from embc import Workspace; import json, sys\n"
             f"with Workspace({str(home)!r}) as ws:\n"
             "    run = ws.recluster('wordnet', k=8, seed=0, projection='none', full=True)\n"
             "print(json.dumps([c.name for c in run.clusters]), 'sentence_transformers' in sys.modules)")
    again = subprocess.run([sys.executable, "-c", refit], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.rsplit(" ", 1)[1].strip() == "False" and json.loads(again.stdout.rsplit(" ", 1)[0]) == names
