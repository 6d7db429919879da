"""Query texts and images embedded without torch: the same vectors as the torch model's, the converted model kept
by the first process that asks and read by the next, and models of other shapes left to torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from embc import Workspace
from embc.ingest import image_queries, text_queries
from embc.ingest.items import Item
from embc.ingest.registry import load_embedder
from embc.ingest.text_models import model_folder
from helpers import ROOT, WORDNET

TEXTS = ["a breed of hunting dog", "", "Ünïcode, CAPITALS and emoji 🐕", "word " * 400,
         "a longer sentence about the weather in the mountains of northern Italy in late autumn"]


FASHION = ROOT / "images" / "samples" / "fashion-mnist-600"


def items(texts):
    return [Item(key=str(n), source="test", kind="text", text=t) for n, t in enumerate(texts)]


def images(tmp_path):
    """A Fashion-MNIST PNG (greyscale), a wide RGBA PNG and a tall JPEG: squashed, or cropped from the centre."""
    from PIL import Image

    Image.new("RGBA", (300, 120), (200, 30, 30, 128)).save(tmp_path / "wide.png")
    Image.linear_gradient("L").resize((90, 400)).convert("RGB").save(tmp_path / "tall.jpg")
    paths = [FASHION / "bag" / "t10k-00018.png", tmp_path / "wide.png", tmp_path / "tall.jpg"]
    return [Item(key=p.name, source="test", kind="image", path=str(p)) for p in paths]


def test_minilm_queries_without_torch_are_the_torch_models_vectors(minilm, tmp_path, monkeypatch):
    import multiprocessing

    assert text_queries.kept("minilm", tmp_path) is None
    # OpenVINO's converter would fork a process to send usage statistics: a fork beside running threads hung a
    # recluster, and embc sends nothing anywhere.
    forks = []
    monkeypatch.setattr(multiprocessing.Process, "start", lambda process: forks.append(process))
    text_queries.keep(minilm, tmp_path)
    assert forks == []
    fast = text_queries.kept("minilm", tmp_path)
    assert fast is not None and fast.dim == 384
    # One text at a time and all at once (padded to the longest, 256 tokens after truncation).
    wanted = minilm.embed(items(TEXTS))
    assert np.abs(fast.embed(items(TEXTS)) - wanted).max() < 1e-5
    assert np.abs(np.vstack([fast.embed(items([t])) for t in TEXTS]) - wanted).max() < 1e-5


def test_a_model_pooled_by_its_first_token_is_pooled_so(tmp_path):
    root = tmp_path / "cls-minilm"
    shutil.copytree(model_folder("minilm"), root)
    pooling = root / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    torch_model = load_embedder(f"sentence-transformers:{root}")
    text_queries.keep(torch_model, tmp_path / "kept")
    fast = text_queries.kept(f"sentence-transformers:{root}", tmp_path / "kept")
    wanted = torch_model.embed(items(TEXTS))
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


def asked_twice(home, collection: str, query: str) -> tuple[list, list]:
    """`similar` with `query` (Python keyword arguments) asked by two new processes, one after the other: the first
    converts the model and answers with torch, the second finds it kept and answers without importing torch."""
    ask = ("from embc import Workspace; import json, sys\n"
           f"with Workspace({str(home)!r}) as ws:\n"
           f"    found = ws.similar({collection!r}, {query}, limit=5)\n"
           "print(json.dumps([[e.item, round(e.score, 5)] for e in found]), 'torch' in sys.modules)")
    answers = [subprocess.run([sys.executable, "-c", ask], capture_output=True, text=True, timeout=300)
               for _ in range(2)]
    assert all(a.returncode == 0 for a in answers), answers
    (first, loaded), (second, without) = (a.stdout.rsplit(" ", 1) for a in answers)
    assert (loaded.strip(), without.strip()) == ("True", "False")
    return json.loads(first), json.loads(second)


def test_a_new_process_answers_a_text_query_without_torch(tmp_path):
    """The same answer, the second time without torch; a recluster's names too."""
    home = tmp_path / "home"
    rows = [json.loads(line) for line in WORDNET.read_text().splitlines()][::8]
    with Workspace(home) as ws:
        ws.ingest("wordnet", rows)
        names = [c.name for c in ws.recluster("wordnet", k=8, seed=0, projection="none").clusters]
    first, second = asked_twice(home, "wordnet", "text='a breed of hunting dog'")
    assert first == second and len(first) == 5
    assert [p.name.startswith("queries-") for p in (home / "openvino").iterdir()] == [True]
    # A recluster's keywords, which name the clusters, are embedded the same way.
    refit = ("from embc import Workspace; import json, sys\n"
             f"with Workspace({str(home)!r}) as ws:\n"
             "    run = ws.recluster('wordnet', k=8, seed=0, projection='none', full=True)\n"
             "print(json.dumps([c.name for c in run.clusters]), 'sentence_transformers' in sys.modules)")
    again = subprocess.run([sys.executable, "-c", refit], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.rsplit(" ", 1)[1].strip() == "False" and json.loads(again.stdout.rsplit(" ", 1)[0]) == names


@pytest.mark.parametrize("name", ["effnet-lite0", "resnet50", "inception_v3"])
def test_cnn_queries_without_torch_are_the_torch_models_vectors(tmp_path, name):
    """EfficientNet-Lite0 from its package; torchvision CNNs from a weights file (saved here from a randomly
    initialised model, as no hub is reachable: the test checks the plumbing, not quality)."""
    import torch
    import torchvision

    weights = None
    if name != "effnet-lite0":
        torch.manual_seed(0)
        extra = {"aux_logits": True, "init_weights": True} if name == "inception_v3" else {}
        torch.save(torchvision.models.get_model(name, weights=None, **extra).state_dict(), tmp_path / "w.pt")
        weights = str(tmp_path / "w.pt")
    assert image_queries.kept(name, weights, tmp_path / "kept") is None
    torch_model = load_embedder(name, weights=weights)
    image_queries.keep(torch_model, tmp_path / "kept")
    fast = image_queries.kept(name, weights, tmp_path / "kept")
    assert fast is not None and fast.dim == torch_model.dim
    wanted = torch_model.embed(images(tmp_path))
    assert np.abs(np.vstack([fast.embed([item]) for item in images(tmp_path)]) - wanted).max() < 1e-5
    # A CNN whose weights torchvision downloads is left to torch: its file is torch's to find.
    assert image_queries.kept("resnet50", None, tmp_path / "kept") is None


def test_a_new_process_answers_an_image_query_without_torch(tmp_path):
    home = tmp_path / "home"
    with Workspace(home) as ws:
        ws.ingest("fashion", FASHION / "bag")
    first, second = asked_twice(home, "fashion", f"image={str(FASHION / 'bag' / 't10k-00018.png')!r}")
    assert first == second and first[0] == ["t10k-00018.png", 1.0]
