"""The server's kept answers (embc.service.answers): a quiet collection gets its cluster list and the first page
of every cluster made ahead, the same bytes a question would get, and nothing is made while it is written to."""

from __future__ import annotations

import asyncio
import json
import shutil

from embc import Workspace
from embc.service import schedule
from embc.service.answers import PAGE, Answers
from embc.service.jobs import Jobs


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
