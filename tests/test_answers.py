"""What the server makes ready for a quiet collection: its cluster list and the first page of every cluster
(embc.service.answers), the same bytes a question would get, with nothing made while it is written to; and the
model its questions are embedded by."""

from __future__ import annotations

import asyncio
import json
import shutil

from embc import Workspace
from embc.service import schedule
from embc.service.answers import PAGE, Answers
from embc.service.jobs import Jobs
from helpers import FASHION


def _sent(answers: Answers, collection: str, question) -> object:
    return json.loads(asyncio.run(answers.json(collection, question)).body)


def test_a_quiet_collection_gets_its_first_answers_made_ahead(clustered_home, tmp_path):
    shutil.copytree(clustered_home, tmp_path / "home")
    with Workspace(tmp_path / "home", resident=True) as ws:
        answers = Answers(ws)
        schedule.index_tick(ws, Jobs(), answers)  # nothing written by this server yet: quiet
        assert answers.warm("wordnet") == 0  # the tick made every one of them
        clusters = _sent(answers, "wordnet", answers.clusters("wordnet"))
        assert len(clusters) == 8 and clusters == [c.to_dict() for c in ws.clusters("wordnet")]
        page = _sent(answers, "wordnet", answers.members("wordnet", 3))
        assert [e["item"] for e in page["items"]] == [e.item for e in ws.members("wordnet", 3, PAGE)]
        assert page["next_cursor"] == str(PAGE)

        ws.delete("wordnet", [page["items"][0]["item"]])
        assert not ws.store.quiet("wordnet")
        schedule.index_tick(ws, Jobs(), answers)  # written to just now: nothing made
        assert answers.warm("wordnet") == 1 + len(clusters)
        page = _sent(answers, "wordnet", answers.members("wordnet", 3))
        assert [e["item"] for e in page["items"]] == [e.item for e in ws.members("wordnet", 3, PAGE)]


def test_first_answers_are_made_once_for_each_version_of_a_collection(clustered_home, tmp_path):
    """Answers sent out to make room are not made again at every tick (many collections, little room)."""
    shutil.copytree(clustered_home, tmp_path / "home")
    with Workspace(tmp_path / "home", resident=True) as ws:
        answers = Answers(ws, max_bytes=1024)  # too little room to keep any of them
        assert answers.warm("wordnet") == 9
        assert answers.warm("wordnet") == 0
        ws.rename("wordnet", 3, "body parts")  # a new version of the collection
        assert answers.warm("wordnet") == 9


def test_a_quiet_collection_gets_its_query_model_loaded_once_and_a_failure_said_once(clustered_home, tmp_path,
                                                                                     capsys):
    """The server loads the model of a quiet collection's text and image questions ahead, so that the first one
    does not wait for it; one that cannot be loaded is said on stderr once, and a collection of vectors has none."""
    shutil.copytree(clustered_home, tmp_path / "home")
    glove = tmp_path / "glove.txt"
    glove.write_text("dog 1 0\ncat 0 1\n")
    with Workspace(tmp_path / "home") as ws:
        ws.ingest("words", ["dog", "cat"], model=f"glove:{glove}")
        ws.ingest("vectors", [("v1", [1.0, 0.0]), ("v2", [0.0, 1.0])])
    glove.unlink()
    with Workspace(tmp_path / "home", resident=True) as ws:  # a server's: nothing written by it yet, all quiet
        tried: set = set()
        for _ in range(2):
            schedule.index_tick(ws, Jobs(), Answers(ws), tried)
        said = [line.split("embc serve: ", 1)[1] for line in capsys.readouterr().err.splitlines()]
        assert [line.split(" loaded")[0] for line in said if "minilm" in line] == ["wordnet: model minilm"]
        assert [line for line in said if line.startswith("words")] == [
            f"words: model glove:{glove} not loaded ahead: no word-vector file '{glove}'"]
        assert not any(line.startswith("vectors") for line in said)


def test_a_quiet_clip_collection_gets_both_encoders_run_ahead(tmp_path, clip_weights):
    """CLIP's encoders compile at their first run (2 s for ViT-B-32's text encoder): the server runs both ahead,
    so that neither the first text question nor the first image question waits."""
    with Workspace(tmp_path / "home") as ws:
        ws.ingest("clip", FASHION / "bag", model="clip:ViT-S-32", weights=str(clip_weights))
    with Workspace(tmp_path / "home", resident=True) as ws:
        info = ws.collection("clip")
        embedder = ws.embedder(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
        assert not {"images", "texts"} & vars(embedder).keys()  # loaded, not yet compiled
        schedule.index_tick(ws, Jobs(), Answers(ws), set())
        assert {"images", "texts"} <= vars(embedder).keys()
