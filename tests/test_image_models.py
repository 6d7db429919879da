"""torchvision and open_clip embedders load weights from a local file. No hub is reachable here, so the
files are saved from randomly initialised models: the test checks loading, shapes and plumbing, not quality."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from embc.cli import app
from embc.ingest.registry import load_embedder
from embc.ingest.items import Item

runner = CliRunner()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name, colour in (("red", (220, 20, 20)), ("green", (20, 200, 20)), ("blue", (20, 20, 220))):
        (folder / name).mkdir()
        Image.new("RGB", (80, 60), colour).save(folder / name / f"{name}.jpg")
    return folder


def _items(folder):
    return [Item(key=p.name, source=p.name, kind="image", path=str(p)) for p in sorted(folder.glob("*/*.jpg"))]


@pytest.mark.parametrize("name, dim", [("resnet50", 2048), ("inception_v3", 2048), ("vgg16", 4096)])
def test_torchvision_models_load_a_local_state_dict(tmp_path, photos, name, dim):
    import torchvision

    extra = {"aux_logits": True, "init_weights": True} if name == "inception_v3" else {}
    torch.manual_seed(0)
    torch.save(torchvision.models.get_model(name, weights=None, **extra).state_dict(), tmp_path / "w.pt")
    embedder = load_embedder(name, weights=str(tmp_path / "w.pt"))
    items = _items(photos)
    vectors = embedder.embed(items)
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # The removed classifier layer still names each image's ImageNet class, for cluster names.
    from embc.ingest.image_models import imagenet_categories

    assert all(item.tags["imagenet_class"] in imagenet_categories() for item in items)


def test_a_weights_file_that_does_not_fit_is_a_clear_error(tmp_path):
    from embc.errors import EmbcError

    torch.save({"nothing": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(EmbcError, match="^cannot load model 'resnet50': Error.s. in loading state_dict for ResNet: "
                                        "Missing key.s. in state_dict: \"conv1.weight\""):
        load_embedder("resnet50", weights=str(tmp_path / "bad.pt"))
    # Not a state dict, or one holding objects: said so, without torch's advice to load it unsafely.
    (tmp_path / "text.pt").write_text("not weights")
    torch.save({"fc.weight": object}, tmp_path / "objects.pt")
    for name in ("text.pt", "objects.pt"):
        with pytest.raises(EmbcError, match=f"^cannot load model 'resnet50': '{tmp_path / name}' is not a state "
                                            "dict saved by torch.save, or it holds objects that would run code as "
                                            "they load$"):
            load_embedder("resnet50", weights=str(tmp_path / name))


def test_a_clip_collection_answers_image_and_text_queries(tmp_path, photos, clip_weights):
    home = ["--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*home, "ingest", str(photos), "-c", "clip", "--model", "clip:ViT-S-32",
                                 "--weights", str(clip_weights), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 3
    info = json.loads(runner.invoke(app, [*home, "collections", "--json"]).stdout)[0]
    assert (info["model"], info["dim"], info["modality"]) == ("clip:ViT-S-32", 384, "image")
    by_text = json.loads(runner.invoke(app, [*home, "similar", "--text", "a red square", "-c", "clip",
                                             "--json"]).stdout)
    assert len(by_text) == 3 and all(-1 <= h["score"] <= 1 for h in by_text)
    by_image = json.loads(runner.invoke(app, [*home, "similar", "--image", str(photos / "red" / "red.jpg"),
                                              "-c", "clip", "-n", "1", "--json"]).stdout)
    assert by_image[0]["label"] == "red" and by_image[0]["score"] == pytest.approx(1, abs=1e-4)
    # Another weights file for the same collection is refused, not mixed in.
    result = runner.invoke(app, [*home, "ingest", str(photos), "-c", "clip", "--weights", str(tmp_path / "x.pt")])
    assert result.exit_code == 1 and "no weights file" in result.stderr


def test_a_clip_model_that_names_no_weights_is_refused(tmp_path, photos):
    # open_clip would make a model of random weights: every vector meaningless, and another in each process.
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "ingest", str(photos), "-c", "clip", "--model",
                                 "clip:ViT-B-32"])
    assert result.exit_code == 1 and re.fullmatch(
        r"embc: error: cannot load model 'clip:ViT-B-32': it names no weights; give clip:ViT-B-32/PRETRAINED "
        r"\(open_clip knows openai, [a-z0-9_, ]+ for it\), or a weights file \(--weights\)\n", result.stderr)
    assert json.loads(runner.invoke(app, ["--data-dir", str(tmp_path), "collections", "--json"]).stdout) == []
