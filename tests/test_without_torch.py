"""Texts and images embedded without torch, items and queries alike: the same vectors as the torch model's, the
converted model kept by the first process that needs it and read by the next, and models of other shapes left to
torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embc import Workspace
from embc.ingest import clip_without_torch, images_without_torch, text_without_torch
from embc.ingest.items import Item
from embc.ingest.registry import load_embedder
from embc.ingest.text_models import model_folder
from helpers import FASHION, WORDNET

TEXTS = ["a breed of hunting dog", "", "Ünïcode, CAPITALS and emoji 🐕", "word " * 400,
         "a longer sentence about the weather in the mountains of northern Italy in late autumn"]


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

    assert text_without_torch.kept("minilm", tmp_path) is None
    # Conversions kept before: one of MiniLM's files as they were (or by another OpenVINO), one of another model.
    for name, source in (("text-earlier", model_folder("minilm").resolve()), ("text-another", tmp_path / "m")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "source.txt").write_text(str(source))
    # OpenVINO's converter would fork a process to send usage statistics: a fork beside running threads hung a
    # recluster, and embc sends nothing anywhere.
    forks = []
    monkeypatch.setattr(multiprocessing.Process, "start", lambda process: forks.append(process))
    text_without_torch.keep(minilm, tmp_path)
    assert forks == []
    (now,) = {p.name for p in tmp_path.iterdir()} - {"text-another"}  # MiniLM's earlier conversion replaced
    assert (tmp_path / now / "model.xml").is_file()
    fast = text_without_torch.kept("minilm", tmp_path)
    assert fast is not None and fast.dim == 384
    # One text at a time and all at once (padded to the longest, 256 tokens after truncation).
    wanted = minilm.embed(items(TEXTS))
    assert np.abs(fast.embed(items(TEXTS)) - wanted).max() < 1e-5
    assert np.abs(np.vstack([fast.embed(items([t])) for t in TEXTS]) - wanted).max() < 1e-5


def test_a_compiled_model_is_kept_and_read_back_to_the_same_vectors(minilm, tmp_path):
    text_without_torch.keep(minilm, tmp_path / "kept")
    first = text_without_torch.kept("minilm", tmp_path / "kept").embed(items(TEXTS))
    (folder,) = (tmp_path / "kept").iterdir()
    assert any((folder / "compiled").iterdir())  # what the next process reads instead of compiling
    assert np.array_equal(text_without_torch.kept("minilm", tmp_path / "kept").embed(items(TEXTS)), first)
    # Where the compiled model cannot be written (a read-only data directory), the model is compiled each time.
    shutil.rmtree(folder / "compiled")
    (folder / "compiled").write_text("not a folder")
    assert np.array_equal(text_without_torch.kept("minilm", tmp_path / "kept").embed(items(TEXTS)), first)


def test_a_model_pooled_by_its_first_token_is_pooled_so(tmp_path):
    root = tmp_path / "cls-minilm"
    shutil.copytree(model_folder("minilm"), root)
    pooling = root / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    torch_model = load_embedder(f"sentence-transformers:{root}")
    text_without_torch.keep(torch_model, tmp_path / "kept")
    fast = text_without_torch.kept(f"sentence-transformers:{root}", tmp_path / "kept")
    wanted = torch_model.embed(items(TEXTS))
    assert fast.plan.pooling == "cls" and np.abs(fast.embed(items(TEXTS)) - wanted).max() < 1e-5


@pytest.mark.parametrize("change", ["dense", "max pooling", "prompt", "no tokenizer"])
def test_models_of_other_shapes_answer_through_sentence_transformers(tmp_path, change):
    root = tmp_path / "model"
    shutil.copytree(model_folder("minilm"), root)
    assert text_without_torch.plan(root) is not None
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
    assert text_without_torch.plan(root) is None


def in_new_process(home, code: str, module: str = "torch") -> tuple[object, bool]:
    """What `code`, run on a Workspace `ws` over `home` in a new process, leaves in `out` (as JSON), and whether
    that process imported `module`."""
    script = (f"from embc import Workspace; import json, sys\nwith Workspace({str(home)!r}) as ws:\n"
              + "".join(f"    {line}\n" for line in code.splitlines())
              + f"print(json.dumps(out)); print({module!r} in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out, imported = done.stdout.strip().rsplit("\n", 1)
    return json.loads(out), imported == "True"


def stored(home, collection: str) -> tuple[list[dict], np.ndarray]:
    """The collection's payloads and vectors."""
    with Workspace(home) as ws:
        pages = list(ws.store.pages(collection))
    return [p for page in pages for p in page.payloads], np.vstack([page.vectors for page in pages])


def test_texts_are_ingested_and_asked_about_without_torch(tmp_path, minilm):
    """The first ingest converts MiniLM and embeds with it: the torch model's vectors. Later processes ingest, ask
    and name a recluster's clusters without importing torch."""
    home = tmp_path / "home"
    rows = [json.loads(line) for line in WORDNET.read_text().splitlines()][::8]
    with Workspace(home) as ws:
        assert ws.ingest("wordnet", rows[:190]).added == 190
        names = [c.name for c in ws.recluster("wordnet", k=8, seed=0, projection="none").clusters]
    assert [p.name.startswith("text-") for p in (home / "openvino").iterdir()] == [True]
    payloads, vectors = stored(home, "wordnet")
    wanted = minilm.embed(items([p["text"] for p in payloads]))
    assert np.abs(vectors - wanted).max() < 1e-5
    added, imported = in_new_process(home, f"out = ws.ingest('wordnet', {rows[190:]!r}).added")
    assert (added, imported) == (len(rows) - 190, False)
    found, imported = in_new_process(home, f"out = [e.item for e in ws.similar('wordnet', text={rows[-1]['text']!r})]")
    assert found[0] == rows[-1]["id"] and not imported
    # A recluster's keywords, which name the clusters, are embedded the same way, and its k-means is numpy's: a
    # recluster imports no torch.
    refit = "out = [c.name for c in ws.recluster('wordnet', k=8, seed=0, projection='none', full=True).clusters]"
    again, imported = in_new_process(home, refit)
    assert len(again) == len(names) == 8 and not imported
    # Nor does a density fit, through its reduction and the map.
    density = "out = [c.name for c in ws.recluster('wordnet', 'hdbscan', seed=0, full=True).clusters]"
    named, imported = in_new_process(home, density)
    assert len(named) >= 3 and not imported


def test_images_are_ingested_and_asked_about_without_torch(tmp_path):
    """The same for EfficientNet-Lite0: the torch model's vectors and ImageNet classes, and no torch later."""
    home = tmp_path / "home"
    with Workspace(home) as ws:
        ws.ingest("fashion", FASHION / "bag")
    payloads, vectors = stored(home, "fashion")
    torch_model = load_embedder("effnet-lite0")
    again = [Item(key=p["item"], source="test", kind="image", path=p["path"]) for p in payloads]
    assert np.abs(vectors - torch_model.embed(again)).max() < 1e-5
    assert [p["imagenet_class"] for p in payloads] == [item.tags["imagenet_class"] for item in again]
    added, imported = in_new_process(home, f"out = ws.ingest('fashion', {str(FASHION / 'coat')!r}).added")
    assert added == len(list((FASHION / "coat").iterdir())) and not imported
    query = str(FASHION / "bag" / "t10k-00018.png")
    found, imported = in_new_process(home, f"out = [[e.item, e.score] for e in ws.similar('fashion', image={query!r})]")
    assert found[0][0] == "t10k-00018.png" and found[0][1] > 0.9999 and not imported


@pytest.mark.parametrize("name, given", [("effnet-lite0", "package"), ("resnet50", "file"), ("inception_v3", "file"),
                                         ("resnet50", "standard")])
def test_cnn_queries_without_torch_are_the_torch_models_vectors(tmp_path, monkeypatch, name, given):
    """EfficientNet-Lite0 from its package; torchvision CNNs from a weights file, or with torchvision's standard
    weights from the folder torchvision downloads them to (saved here from a randomly initialised model, as no hub
    is reachable: the test checks the plumbing, not quality)."""
    import torch
    import torchvision

    weights = None
    if given != "package":
        torch.manual_seed(0)
        extra = {"aux_logits": True, "init_weights": True} if name == "inception_v3" else {}
        file = tmp_path / "w.pt"
        if given == "standard":
            monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
            file = tmp_path / "torch" / "hub" / "checkpoints" / Path(torchvision.models.get_model_weights(name)
                                                                     .DEFAULT.url).name
            file.parent.mkdir(parents=True)
        torch.save(torchvision.models.get_model(name, weights=None, **extra).state_dict(), file)
        weights = str(file) if given == "file" else None
    assert images_without_torch.kept(name, weights, tmp_path / "kept") is None
    # A conversion of the standard weights by another torchvision, which the new one replaces.
    earlier = tmp_path / "kept" / f"images-{name}-earlier"
    earlier.mkdir(parents=True)
    (earlier / "source.txt").write_text(f"{name} with torchvision's standard weights")
    torch_model = load_embedder(name, weights=weights)
    images_without_torch.keep(torch_model, tmp_path / "kept")
    assert earlier.exists() == (given != "standard")
    fast = images_without_torch.kept(name, weights, tmp_path / "kept")
    assert fast is not None and fast.dim == torch_model.dim
    by_torch, by_openvino = images(tmp_path), images(tmp_path)
    wanted = torch_model.embed(by_torch)
    assert np.abs(np.vstack([fast.embed([item]) for item in by_openvino]) - wanted).max() < 1e-5
    assert [i.tags for i in by_openvino] == [i.tags for i in by_torch] and "imagenet_class" in by_torch[0].tags


@pytest.fixture(scope="module")
def clip_pair(tmp_path_factory, clip_weights):
    """CLIP ViT-S-32 on torch, and on OpenVINO as converted from it."""
    cache = tmp_path_factory.mktemp("kept")
    assert clip_without_torch.kept("clip:ViT-S-32", str(clip_weights), cache) is None
    torch_model = load_embedder("clip:ViT-S-32", weights=str(clip_weights))
    clip_without_torch.keep(torch_model, cache)
    return torch_model, clip_without_torch.kept("clip:ViT-S-32", str(clip_weights), cache)


def test_clip_texts_and_images_without_torch_are_the_torch_models_vectors(tmp_path, clip_pair):
    torch_model, fast = clip_pair
    assert fast is not None and fast.dim == torch_model.dim == 384
    wanted = torch_model.embed(images(tmp_path) + items(TEXTS))
    assert np.abs(fast.embed(images(tmp_path) + items(TEXTS)) - wanted).max() < 1e-5
    assert np.abs(np.vstack([fast.embed([item]) for item in items(TEXTS)]) - wanted[3:]).max() < 1e-5


ODD_TEXTS = ["<start_of_text>", "&amp;lt;b&amp;gt;", "don't", "İß", "ÃƒÂ©", "🐕" * 80, "a\u0301 \t\n b", ":\U0003d000"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=120) | st.sampled_from(ODD_TEXTS), min_size=1, max_size=4).map(" ".join))
def test_clip_texts_are_split_into_open_clips_own_tokens(clip_pair, text):
    torch_model, fast = clip_pair
    assert fast.tokens([text]).tolist() == torch_model.tokenizer([text]).tolist()


def test_clip_collections_are_ingested_and_asked_about_without_torch(tmp_path, clip_weights):
    """Images and texts into a CLIP collection, and questions of both kinds from later processes, without torch."""
    home = tmp_path / "home"
    with Workspace(home) as ws:
        assert ws.ingest("clip", FASHION / "bag", model="clip:ViT-S-32", weights=str(clip_weights)).added == 60
    texts = [{"id": f"t{n}", "text": t} for n, t in enumerate(TEXTS) if t]
    added, imported = in_new_process(home, f"out = ws.ingest('clip', {texts!r}).added")
    assert (added, imported) == (len(texts), False)
    query = str(FASHION / "bag" / "t10k-00018.png")
    found, imported = in_new_process(home, f"out = [e.item for e in ws.similar('clip', image={query!r})]")
    assert found[0] == "t10k-00018.png" and not imported
    found, imported = in_new_process(home, f"out = [e.item for e in ws.similar('clip', text={TEXTS[0]!r})]")
    assert found[0] == "t0" and not imported
    # A recluster names the clusters with keywords embedded by the text encoder, also without torch.
    names, imported = in_new_process(home, "out = [c.name for c in ws.recluster('clip', k=3, seed=0).clusters]")
    assert len(names) == 3 and all(names) and not imported
