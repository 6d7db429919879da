"""`embc serve` as a real process on a loopback port, driven over HTTP with httpx: every endpoint's JSON shape,
auth, errors as JSON 4xx, recluster jobs, and the refusal to listen beyond loopback without a key."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Iterator
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

import embc
from embc.service.app import INDEX_CHECK
from helpers import FASHION, run_embc

KEY = "test-key-0123456789"
MAX_BODY = 200_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, *args: str, log: IO[str] | None = None) -> tuple[subprocess.Popen, httpx.Client]:
    """`embc serve` on a free loopback port over `home`, and a client with the key, once it answers. Its output
    goes to `log`, or to a file of its own (`server_log` reads it): a pipe that nobody reads fills up, and a server
    writing to a full one stops answering, which would hang a test instead of failing it."""
    port = _free_port()
    log = log or tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, "-m", "embc", "serve", "--port", str(port), "--api-key", KEY, *args],
                               env={**os.environ, "EMBC_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT,
                               text=True)
    process.log = log
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"},
                          timeout=120)
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, server_log(process)
        time.sleep(0.2)
    client.home = home
    return process, client


def server_log(process: subprocess.Popen, timeout: float = 30) -> str:
    """What a server from `start_server` wrote, once it has stopped (killed if it has not within `timeout`)."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.flush()
    process.log.seek(0)
    return process.log.read()


@pytest.fixture(scope="module")
def server(clustered_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("served") / "home"
    shutil.copytree(clustered_home, home)
    process, client = start_server(home, "--max-body", str(MAX_BODY))
    yield client
    process.terminate()
    process.wait(30)
    client.close()


def test_health_auth_and_openapi(server):
    health = server.get("/healthz", headers={"Authorization": ""}).json()
    assert health == {"status": "ok", "version": "0.2.0", "max_body": MAX_BODY}
    missing = server.get("/v1/collections", headers={"Authorization": ""})
    assert (missing.status_code, missing.json()) == (401, {"error": "send the API key as Authorization: Bearer KEY",
                                                           "detail": None})
    wrong = server.get("/v1/collections", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "wrong API key")
    schema = server.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/v1/collections", "/v1/collections/{collection}/similar", "/v1/jobs/{job_id}"} <= set(paths)
    # Every JSON answer has its shape in the schema, so that clients (and the fuzz tests below) can check it; the
    # export streams rows in the format asked for.
    untyped = [(method, path) for path, operations in paths.items() for method, operation in operations.items()
               for code, answer in operation["responses"].items() if code.startswith("2")
               and "application/json" in answer.get("content", {}) and not answer["content"]["application/json"]
               and not path.endswith("/export")]
    assert untyped == []
    assert paths["/v1/collections/{collection}/report"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Report"}
    assert [kind.get("$ref", "null").split("/")[-1] for kind in schema["components"]["schemas"]["Job"]["properties"][
        "result"]["anyOf"]] == ["Reclustered", "NothingNew", "DecoderResult", "null"]  # what a job made, typed
    # The key is checked before the body is read: without it, a client cannot make the server hold a body.
    port = urlsplit(str(server.base_url)).port
    for auth, status in ((b"", 401), (b"Authorization: Bearer nope\r\n", 403)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as early:
            early.sendall(b"POST /v1/collections/x/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          + auth + f"Content-Length: {MAX_BODY}\r\n\r\n".encode() + b"[" * 1000)
            assert early.recv(4096).decode().startswith(f"HTTP/1.1 {status} "), auth
    for public in ("/", "/c/wordnet", "/static/map.js", "/docs", "/openapi.json"):  # the map's page asks for the key
        assert server.get(public, headers={"Authorization": ""}).status_code == 200, public
    # The API's docs load their scripts and styles from the server, not from a CDN a machine may not reach.
    for page in ("/docs", "/redoc"):
        files = re.findall(r'(?:src|href)="([^"]+)"', server.get(page, headers={"Authorization": ""}).text)
        assert files and all(f.startswith("/docs/files/") for f in files), files
        for file in files:
            answer = server.get(file, headers={"Authorization": ""})
            assert answer.status_code == 200 and len(answer.content) > 1000, file
    assert server.get("/metrics", headers={"Authorization": ""}).status_code == 401


def test_a_thumbnail_draws_clusters_whose_ids_are_20_apart_in_two_colours():
    """As the map page colours them (test_browser checks that both choose alike): ids grow across runs."""
    from PIL import Image

    from embc.service.map import WEB, thumbnail

    png = thumbnail({"x": np.array([0.0, 1.0, 0.5]), "y": np.array([0.0, 1.0, 0.5]),
                     "cluster": np.array([1.0, 21.0, np.nan])}, 16)
    pixels = Image.open(io.BytesIO(png)).convert("RGB")
    palette = json.loads((WEB / "static" / "palette.json").read_text())
    hexes = ["#%02x%02x%02x" % pixels.getpixel(xy) for xy in ((0, 15), (15, 0), (8, 7))]
    assert hexes == [palette["clusters"][1], palette["clusters"][2], palette["noise"]]


def test_collections_clusters_and_members_paged_with_a_cursor(server):
    assert server.get("/v1/collections").json() == [
        {"name": "wordnet", "points": 1600, "model": "minilm", "dim": 384, "modality": "text",
         "precision": "fp32"}]
    clusters = server.get("/v1/collections/wordnet/clusters").json()
    assert [c["id"] for c in clusters] == list(range(8)) and sum(c["size"] for c in clusters) == 1600
    assert set(clusters[0]) == {"id", "size", "name", "keywords", "example", "run_id"}
    seen, cursor = [], None
    while True:
        page = server.get("/v1/collections/wordnet/clusters/3/items",
                          params={"limit": 50, **({"cursor": cursor} if cursor else {})}).json()
        assert all(set(i) == {"id", "item", "label", "cluster", "text", "path", "values"} for i in page["items"])
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == clusters[3]["size"]
    assert server.get("/v1/collections/wordnet/clusters/3").json() == clusters[3]
    missing = server.get("/v1/collections/wordnet/clusters/99")
    assert (missing.status_code, missing.json()["error"]) == (
        404, "no cluster 99 in collection 'wordnet' (clusters: 0, 1, 2, 3, 4, 5, 6, 7)")
    noise = server.get("/v1/collections/wordnet/clusters/-1/items")  # k-means leaves none: no points, not a 404
    assert (noise.status_code, noise.json()) == (200, {"items": [], "next_cursor": None})
    assert server.get("/v1/collections/wordnet/clusters/noise/items").json() == noise.json()
    assert server.get("/v1/collections/wordnet/clusters/nois/items").status_code == 422


def test_similar_by_text_item_and_vector(server):
    hits = server.post("/v1/collections/wordnet/similar", json={"text": "a breed of hunting dog", "limit": 3}).json()
    assert len(hits) == 3 and hits[0]["label"] == "noun.animal" and set(hits[0]) == {
        "id", "item", "label", "cluster", "text", "path", "values", "score"}
    by_item = server.post("/v1/collections/wordnet/similar", json={"item": hits[0]["item"], "limit": 2}).json()
    assert len(by_item) == 2 and hits[0]["id"] not in {h["id"] for h in by_item}
    vector = server.post("/v1/collections/wordnet/similar", json={"vector": [0.05] * 384, "limit": 1})
    assert vector.status_code == 200 and len(vector.json()) == 1


def test_noise_is_named_as_on_the_command_line_wherever_a_cluster_is_asked_for(server):
    # Four tight groups, and four points each alone on an axis of its own: an hdbscan fit's noise.
    rng = np.random.default_rng(0)
    axes = np.eye(8) * 10
    records = [{"id": f"g{c}-{i}", "vector": (axes[c] + rng.normal(size=8) * 0.3).tolist()}
               for c in range(4) for i in range(25)]
    records += [{"id": f"alone-{i}", "vector": axes[4 + i].tolist()} for i in range(4)]
    assert server.post("/v1/collections/groups/items", json={"records": records}).json()["added"] == 104
    job = server.post("/v1/collections/groups/recluster", json={"algorithm": "hdbscan", "reduce": "none", "seed": 0})
    assert _wait(server, job.json()["job_id"])["state"] == "done"
    noise = server.get("/v1/collections/groups/clusters/-1/items").json()["items"]
    assert sorted(i["item"] for i in noise) == [f"alone-{i}" for i in range(4)]
    assert {i["cluster"] for i in noise} == {-1}
    assert server.get("/v1/collections/groups/clusters/noise/items").json()["items"] == noise
    listed = server.get("/v1/collections/groups/clusters").json()
    assert server.get("/v1/collections/groups/clusters/noise").json() == listed[0] and listed[0]["size"] == 4
    near = [server.post("/v1/collections/groups/similar", json={"item": "g0-0", "cluster": cluster}).json()
            for cluster in (-1, "noise")]
    assert near[0] == near[1] and {h["item"] for h in near[0]} == {i["item"] for i in noise}
    assert server.post("/v1/collections/groups/similar", json={"item": "g0-0", "cluster": "nois"}).status_code == 422
    with embc.Client(str(server.base_url), api_key=KEY) as remote:  # the library's and the client's word too
        assert [e.item for e in remote.members("groups", "noise")] == [i["item"] for i in noise]
        assert remote.cluster("groups", -1).to_dict() == listed[0]
        assert [e.item for e in remote.similar("groups", item="g0-0", cluster="noise")] == [h["item"] for h in near[0]]
    assert server.delete("/v1/collections/groups").status_code == 204


def test_similar_by_a_table_row(server):
    rows = [{"id": f"r{i}", "size": i % 10, "weight": i * 7 % 13, "colour": ["red", "blue"][i % 2]} for i in range(60)]
    assert server.post("/v1/collections/parts/items", json={"records": rows, "model": "raw"}).json()["added"] == 60
    asked = {"size": 3, "weight": 8, "colour": "blue"}  # r3's
    hits = server.post("/v1/collections/parts/similar", json={"row": asked, "limit": 2}).json()
    assert hits[0]["item"] == "r3" and hits[0]["values"] == asked
    assert hits[0]["score"] > 0.999
    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        assert [h.item for h in remote.similar("parts", row=asked, limit=2)] == [h["item"] for h in hits]
    unknown = server.post("/v1/collections/parts/similar", json={"row": {"height": 3}})
    assert (unknown.status_code, unknown.json()["error"]) == (409, "cannot embed the query row: it has a value in "
                                                              "none of the columns the raw model learnt (size, "
                                                              "weight, colour)")
    assert server.delete("/v1/collections/parts").status_code == 204


def test_a_density_run_as_a_job_answers_its_typed_result(server):
    """A dbscan run has no inertia: its job's result carried "inertia": null, which the typed result refused
    (a 500 for every question about the job)."""
    rng = np.random.default_rng(0)
    records = [{"id": f"d{i}", "vector": (rng.normal(size=8) + i % 3 * 6).tolist()} for i in range(60)]
    assert server.post("/v1/collections/dense/items", json={"records": records}).json()["added"] == 60
    job = _wait(server, server.post("/v1/collections/dense/recluster", json={"algorithm": "dbscan"}).json()["job_id"])
    assert job["state"] == "done" and "inertia" not in job["result"]["metrics"]
    assert all(isinstance(v, float) for v in job["result"]["metrics"].values())
    assert server.delete("/v1/collections/dense").status_code == 204


def test_similar_questions_asked_at_once_each_get_their_own_answer(server):
    """Questions that arrive together are searched (and their texts embedded) in one call: each still gets
    what it gets alone, and one that cannot be answered fails only its own request."""
    items = [h["item"] for h in server.get("/v1/collections/wordnet/clusters/0/items?limit=12").json()["items"]]
    bodies = [{"item": key, "limit": 3 + n % 4} for n, key in enumerate(items)]
    bodies += [{"text": f"a kind of {word}", "limit": 4} for word in ("dog", "tree", "soup", "river", "fever")]
    bodies += [{"item": "no-such-item"}, {"vector": [(-1.0) ** i for i in range(384)], "cluster": 0, "limit": 5}]

    def ask(body: dict) -> tuple[int, object]:
        response = server.post("/v1/collections/wordnet/similar", json=body)
        return response.status_code, response.json()

    alone = [ask(body) for body in bodies]
    for _ in range(3):
        with ThreadPoolExecutor(len(bodies)) as pool:
            together = list(pool.map(ask, bodies))
        assert [(status, body if status != 200 else [h["id"] for h in body]) for status, body in together] == [
            (status, body if status != 200 else [h["id"] for h in body]) for status, body in alone]
    assert [status for status, _ in alone].count(404) == 1 and all(
        status == 200 for status, _ in alone if status != 404)


@pytest.mark.parametrize("method, path, body, status, error", [
    ("get", "/v1/collections/nope/clusters", None, 404, "no collection 'nope'"),
    ("get", "/v1/collections/wordnet/clusters/99/items", None, 404, "no cluster 99 in collection 'wordnet'"),
    ("post", "/v1/collections/wordnet/similar", {"item": "no-such-item"}, 404, "no item 'no-such-item'"),
    ("post", "/v1/collections/wordnet/similar", {"text": "a", "item": "b"}, 422, "give exactly one of"),
    ("post", "/v1/collections/wordnet/similar", {"vector": [0.1, 0.2]}, 422, "vector must have the collection's 384"),
    ("post", "/v1/collections/wordnet/similar", {"limit": 0, "text": "x"}, 422, "invalid request"),
    ("post", "/v1/collections/wordnet/similar", {"vector": [True, False] * 192}, 422, "invalid request"),
    ("post", "/v1/collections/wordnet/similar", {"vector": ["0.5"] * 384}, 422, "invalid request"),
    ("post", "/v1/collections/wordnet/similar", {"row": {"age": 41}}, 409,
     "collection 'wordnet' holds text items (minilm): it cannot be queried with a row"),
    ("post", "/v1/collections/wordnet/similar", {"text": "x", "sql": "drop"}, 422, "invalid request"),
    ("get", "/v1/collections/wordnet/report?run=42", None, 404, "no run 42 of collection 'wordnet'"),
    ("get", "/v1/collections/.hidden/clusters", None, 422, "invalid request"),
    ("post", "/v1/collections/wordnet/recluster", {"k": 5000}, 422, "k must be at most"),
    ("post", "/v1/collections/wordnet/recluster", {"algorithm": "kmean"}, 422, "invalid request"),
    # Refused before the 202, not by a job that fails after it:
    ("post", "/v1/collections/wordnet/recluster", {"k": 1}, 422, "k must be an integer >= 2, 'auto' (chosen from "
     "2-22), or a range LO-HI to choose from, as '4-12' (2 <= LO, LO + 2 <= HI <= 100), not 1"),
    ("post", "/v1/collections/wordnet/recluster", {"k": "9-3"}, 422, "k must be an integer >= 2, 'auto'"),
    ("post", "/v1/collections/wordnet/recluster", {"algorithm": "agglomerative", "k": "3-9"}, 422,
     "agglomerative needs k as a number: '3-9', a choice of k, is for kmeans"),
    ("post", "/v1/collections/wordnet/recluster", {"algorithm": "hdbscan", "k": 3}, 422, "hdbscan does not take k"),
    ("post", "/v1/collections/wordnet/recluster", {"linkage": "ward"}, 422, "kmeans does not take linkage"),
    ("get", "/v1/jobs/nope", None, 404, "no job 'nope'"),
])
def test_bad_requests_are_json_4xx(server, method, path, body, status, error):
    response = getattr(server, method)(path, **({"json": body} if body is not None else {}))
    assert response.status_code == status and response.json()["error"].startswith(error), response.text


@pytest.mark.parametrize("k", ["eight", True, 8.5, [8], "8 "])
def test_a_k_of_no_kind_embc_takes_is_one_line_of_what_k_should_be(server, k):
    """It was one line per kind of k the schema names ("Input should be a valid integer", "Input should be 'auto'",
    "String should match pattern ..."), none of them saying what k is for."""
    response = server.post("/v1/collections/wordnet/recluster", json={"k": k})
    assert response.status_code == 422 and response.json()["detail"] == [{"loc": ["body", "k"], "msg": (
        "k must be an integer >= 2, 'auto' (chosen from 2-22), or a range LO-HI to choose from, as '4-12' "
        f"(2 <= LO, LO + 2 <= HI <= 100), not {k!r}")}]


def test_a_query_parameter_an_operation_does_not_take_is_a_422_that_names_those_it_does(server):
    """A misspelt parameter was ignored, and the answer to another question sent without a word."""
    response = server.get("/v1/collections/wordnet/clusters/0/items", params={"limt": 5, "run": 1, "x": ""})
    assert (response.status_code, response.json()) == (422, {"error": "invalid request", "detail": [
        {"loc": ["query", "limt"], "msg": "not a query parameter of this operation (it takes: cursor, limit, order, "
                                          "run)"},
        {"loc": ["query", "x"], "msg": "not a query parameter of this operation (it takes: cursor, limit, order, "
                                       "run)"}]})
    assert server.get("/v1/collections", params={"page": 2}).json()["detail"] == [
        {"loc": ["query", "page"], "msg": "not a query parameter of this operation (it takes none)"}]
    # The public paths and the pages take what a prober or a browser adds.
    for path in ("/healthz", "/", "/c/wordnet", "/docs"):
        assert server.get(path, params={"utm_source": "x"}).status_code == 200, path


def test_a_method_a_path_does_not_take_is_a_json_405_that_names_those_it_does(server):
    response = server.request("TRACE", "/v1/collections/wordnet/similar")
    assert response.status_code == 405 and response.json() == {"error": "Method Not Allowed", "detail": None}
    assert response.headers["allow"] == "POST"
    assert server.put("/v1/collections/wordnet").headers["allow"] == "DELETE, GET, HEAD"  # two routes, one path
    assert server.request("PATCH", "/v1/collections/wordnet/decoder").headers["allow"] == "GET, HEAD, POST"
    assert server.post("/static/map.js").headers["allow"] == "GET, HEAD"
    assert server.head("/v1/collections/wordnet/similar").status_code == 405


def test_the_pages_load_only_embcs_own_files_and_no_other_site_may_frame_any_answer(server):
    for page in ("/", "/c/wordnet"):
        headers = server.get(page, headers={"Authorization": ""}).headers
        assert headers["content-security-policy"] == (
            "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")
        assert (headers["x-content-type-options"], headers["referrer-policy"]) == ("nosniff", "no-referrer")
    for answer in (server.get("/docs"), server.get("/static/map.js"), server.get("/v1/collections/wordnet/clusters"),
                   server.get("/v1/collections", headers={"Authorization": ""}), server.get("/v1/nothing"),
                   server.head("/healthz")):
        assert answer.headers.get_list("content-security-policy") == ["frame-ancestors 'none'"], answer.url
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"], answer.url


@pytest.mark.parametrize("path", ["/healthz", "/v1/collections/wordnet/clusters", "/static/map.js", "/"])
def test_head_answers_as_get_does_without_the_body(server, path):
    get, head = server.get(path), server.head(path)
    assert get.status_code == head.status_code == 200 and get.content and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))
    assert httpx.head(f"{server.base_url}{path}").status_code == (401 if path.startswith("/v1") else 200)


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_streamed_body_stops_when_nobody_reads_it(method):
    """An export's writer ends at its next write once the client has the headers of a HEAD (on a connection it
    keeps open) or has hung up on a GET, rather than making the whole body for nobody, or waiting forever for a
    reader."""
    from embc.service.methods import HeadAsGet

    writes, ended = [], threading.Event()

    def write(sink):
        try:
            for _ in range(10_000):
                writes.append(sink.write(b"x" * 65_536))
        finally:
            ended.set()

    with _streaming(HeadAsGet, write) as port, socket.create_connection(("127.0.0.1", port), timeout=60) as client:
        client.sendall(f"{method} / HTTP/1.1\r\nHost: embc\r\n\r\n".encode())
        assert client.recv(65_536).startswith(b"HTTP/1.1 200 OK\r\n")
        if method == "GET":
            client.close()
        assert ended.wait(60) and len(writes) < 1_000, len(writes)


def test_a_client_that_stops_reading_its_export_ends_it_with_one_line_in_the_log(monkeypatch, capsys):
    """The writer gave up on it after `IDLE` seconds, and uvicorn logged the error as a fault of the app's, with
    a traceback. The client still sees an unfinished body: the connection closes before the last chunk."""
    from embc.service import streams
    from embc.service.logs import LOG_CONFIG

    monkeypatch.setattr(streams, "IDLE", 1.0)
    ended = threading.Event()

    def write(sink):
        try:
            for _ in range(10_000):
                sink.write(b"x" * 65_536)
        finally:
            ended.set()

    with _streaming(lambda app: app, write, log_config=LOG_CONFIG) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: embc\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 200 OK\r\n")
            assert ended.wait(60)
            body = b"".join(iter(lambda: client.recv(1 << 20), b""))
    assert not body.endswith(b"0\r\n\r\n") and len(body) < 10_000 * 65_536
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "embc serve: WARNING: the client took nothing of its export for 1 s; the export ends unfinished"], lines


@contextlib.contextmanager
def _streaming(middleware, write, **config) -> Iterator[int]:
    """A uvicorn server in this process, on a free loopback port, whose every answer streams what `write` writes
    through `Streamed`, as an export's does."""
    import uvicorn
    from starlette.background import BackgroundTask
    from starlette.responses import StreamingResponse
    from embc.service.streams import Streamed

    async def app(scope, receive, send):
        if scope["type"] == "http":
            body = Streamed(write)
            await StreamingResponse(body, background=BackgroundTask(body.close))(scope, receive, send)

    port = _free_port()
    served = uvicorn.Server(uvicorn.Config(middleware(app), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", **config))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    try:
        while not served.started:
            time.sleep(0.05)
        yield port
    finally:
        served.should_exit = True
        thread.join(30)


def test_a_streamed_body_nobody_takes_or_closes_stops_its_writer(monkeypatch):
    """A response cancelled without its background task (a server stopping) neither reads nor closes its body; a
    reader that comes back after the writer gave up gets what was queued and then the error, not a wait forever."""
    from embc.service import streams

    monkeypatch.setattr(streams, "IDLE", 1.0)
    ended = threading.Event()

    def write(sink):
        try:
            while True:
                sink.write(b"x")
        finally:
            ended.set()

    body = streams.Streamed(write)
    assert ended.wait(30) and body.chunks.full() and body.failure and isinstance(body.failure[0], BrokenPipeError)
    body.writer.join(30)
    late = iter(body)
    assert [next(late) for _ in range(body.chunks.maxsize)] == [b"x"] * body.chunks.maxsize
    with pytest.raises(BrokenPipeError):
        next(late)


def test_a_model_read_from_a_path_the_client_names_is_refused(server):
    """glove:/etc/passwd read the file (and its error quoted a word of it); clip:ARCH/PATH would unpickle one."""
    from embc.ingest.registry import names_a_path

    assert [names_a_path(m) for m in ("minilm", "word2vec", "effnet-lite0", "resnet50", "raw", "glove:w.txt",
                                      "sentence-transformers:org/some-model", "sentence-transformers:/models/m",
                                      "sentence-transformers:~/m", "clip:ViT-B-32/openai", "clip:ViT-B-32/./w.pt")] == [
        False, False, False, False, False, True, False, True, True, False, True]
    for model in ("glove:/etc/passwd", f"sentence-transformers:{server.home}", "clip:ViT-B-32//etc/passwd"):
        for request in ({"json": {"records": [{"text": "a"}], "model": model}},
                        {"files": [("files", ("a.txt", b"a"))], "data": {"model": model}}):
            refused = server.post("/v1/collections/elsewhere/items", **request)
            assert refused.status_code == 422, refused.text
            message = refused.json()["detail"][0]["msg"]
            assert message.startswith(f"model '{model}' names a file or folder, and the service reads no path")
    assert "elsewhere" not in [c["name"] for c in server.get("/v1/collections").json()]


def _wait(server, job: str) -> dict:
    deadline = time.monotonic() + 300
    while True:
        state = server.get(f"/v1/jobs/{job}").json()
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_ingest_recluster_job_report_runs_and_deletes(server):
    added = server.post("/v1/collections/notes/items", json={"records": [
        {"id": "n1", "text": "a golden retriever fetching a ball"}, {"id": "n2", "text": "a bowl of soup"},
        {"id": "n3", "text": "a tabby cat asleep"}, {"id": "n4", "text": "  "}]}).json()
    assert (added["collection"], added["added"], added["skipped_items"]) == (
        "notes", 3, [{"source": "records#3", "reason": "empty text"}])
    # A record ingest cannot use is skipped with the reason the CLI gives a JSONL line; the rest go in.
    mixed = server.post("/v1/collections/notes/items", json={"records": [
        {"text": 5}, {"title": "no text"}, {"id": None, "text": "a mug of tea", "source_url": "ignored"},
        {"id": "n5", "vector": None, "text": "a teapot"}, {"id": "n6", "vector": [1.0, 2.0]}]})
    assert mixed.status_code == 200 and mixed.json()["added"] == 2
    assert mixed.json()["skipped_items"] == [
        {"source": "records#0", "reason": "'text' is not a string"},
        {"source": "records#1", "reason": "no 'text' field"},
        {"source": "n6", "reason": "a vector item cannot go into a collection of text items (minilm)"}]
    # A record without an id is keyed by its text: sent again, in another request, it is the same item.
    again = server.post("/v1/collections/notes/items", json={"records": [{"text": "a mug of tea"}]}).json()
    assert (again["added"], again["unchanged"]) == (0, 1)
    tea = f"text:{hashlib.sha256(b'a mug of tea').hexdigest()[:16]}"
    assert server.get(f"/v1/collections/notes/items/{tea}").json()["text"] == "a mug of tea"
    assert server.post("/v1/collections/notes/items", json={"records": ["a text"]}).status_code == 422  # no object
    # A table collection's rows: every field but id and label is a feature.
    rows = [{"id": f"r{i}", "label": "big" if i % 2 else "small", "size": float(i), "colour": "red"} for i in range(6)]
    table = server.post("/v1/collections/rows/items", json={"records": rows, "model": "raw"}).json()
    assert (table["added"], server.get("/v1/collections/rows").json()["model"]) == (6, "raw")
    # Not clustered yet: an export has every row, with no cluster or position; a run named is not there.
    exported = [json.loads(line) for line in server.get("/v1/collections/rows/export").text.splitlines()]
    assert sorted(e["item"] for e in exported) == [f"r{i}" for i in range(6)]
    assert {(e["cluster"], e["cluster_name"], e["x"], e["y"]) for e in exported} == {(None, None, None, None)}
    assert server.get("/v1/collections/rows/export", params={"run": 1}).status_code == 404
    assert server.delete("/v1/collections/rows").status_code == 204
    # With a map to lay out, the labels are written before the job announces that step.
    accepted = server.post("/v1/collections/wordnet/recluster", json={"k": 7, "projection": "umap"})
    assert accepted.status_code == 202
    busy = server.post("/v1/collections/wordnet/recluster", json={"k": 6})
    done = _wait(server, accepted.json()["job_id"])
    assert busy.status_code in (202, 409)  # refused while the first runs, or started once it had finished
    if busy.status_code == 202:
        _wait(server, busy.json()["job_id"])
    assert done["state"] == "done" and done["result"]["mode"] == "full" and len(done["result"]["clusters"]) == 7
    assert done["result"]["algorithm"] == "kmeans"  # the last run's, reused where the request names none
    assert done["progress"] == {"step": "write labels", "done": 7, "total": 7}  # one write per cluster
    report = server.get("/v1/collections/wordnet/report").json()
    assert set(report) == {"collection", "run", "metrics", "clusters", "events", "runs", "sweep"}
    events = server.get("/v1/collections/wordnet/events").json()  # 8 clusters became 7: at least one id went
    assert events == report["events"] and {e["kind"] for e in events} & {"death", "merge"}
    assert server.get("/v1/collections/wordnet/events", params={"run": 999}).status_code == 404
    history = server.get("/v1/collections/wordnet/runs").json()
    assert history[-1]["status"] == "complete"
    # The run the 7-cluster run replaced can go; the latest cannot.
    assert server.delete(f"/v1/collections/wordnet/runs/{history[-1]['run_id']}").status_code == 204
    assert server.delete(f"/v1/collections/wordnet/runs/{done['result']['run_id']}").status_code == 409
    assert server.put("/v1/collections/wordnet/clusters/2/name", json={"name": "Dogs"}).status_code == 204
    assert server.get("/v1/collections/wordnet/clusters").json()[2]["name"] == "Dogs"
    assert server.put("/v1/collections/wordnet/clusters/2/name", json={"name": "two\nlines"}).status_code == 422
    figure = server.get("/v1/collections/wordnet/plots/silhouette")
    assert figure.headers["content-type"] == "image/png" and figure.content.startswith(b"\x89PNG")
    assert server.get("/v1/collections/wordnet/plots/elbow").status_code == 409  # no k sweep in this run
    assert server.get("/v1/collections/wordnet").json()["points"] == 1600
    assert server.delete("/v1/collections/notes/items/n2").status_code == 204
    again = server.delete("/v1/collections/notes/items/n2")
    assert (again.status_code, again.json()["error"]) == (404, "no item 'n2' in collection 'notes'")
    assert server.delete("/v1/collections/notes").status_code == 204
    assert [c["name"] for c in server.get("/v1/collections").json()] == ["wordnet"]
    assert server.head("/v1/collections").status_code == 200
    metrics = server.get("/metrics").text
    assert 'embc_requests_total{method="GET",route="/v1/collections",status="200"}' in metrics
    assert 'embc_requests_total{method="HEAD",route="/v1/collections",status="200"}' in metrics
    assert 'embc_jobs{state="done"}' in metrics
    assert 'embc_points{collection="wordnet"} 1600.0' in metrics and 'collection="notes"' not in metrics


def test_the_python_client_sends_records_in_batches_and_numbers_skips_across_them(server, monkeypatch):
    from embc import client as client_module

    monkeypatch.setattr(client_module, "RECORDS", 2)
    texts = [{"text": t} for t in ("a red apple", "a green pear", "a ripe plum")]
    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        # As Workspace.ingest takes them: texts, dicts, (key, vector) pairs, numpy's arrays; what JSON cannot
        # carry is skipped here, with its reason, and the rest goes in.
        result = remote.ingest("fruit", [*texts[:2], {"text": 7}, texts[2], {"title": "none"}, "a ripe fig",
                                         {"text": object()}, ("v1", np.ones(384, np.float32)),
                                         {"vector": [float("inf")] * 384}])
        assert (result.added, [(s.source, s.reason) for s in result.skipped]) == (
            4, [("records#2", "'text' is not a string"), ("records#4", "no 'text' field"),
                ("v1", "a vector item cannot go into a collection of text items (minilm)"),
                ("records#6", "cannot be sent as JSON: JSON has no form of object"),
                ("records#8", "cannot be sent as JSON: a number is inf or nan, which JSON cannot carry")])
        assert remote.ingest("fruit", texts).unchanged == 3  # keyed by their texts, not their places in a batch
        assert remote.collection("fruit").points == 4
        assert len(remote.similar("fruit", vector=np.ones(384, np.float32), limit=np.int64(2))) == 2
        with pytest.raises(embc.ParameterError, match="^the request cannot be sent as JSON: a number is inf or nan"):
            remote.recluster("fruit", "dbscan", eps=float("inf"))
        # The Workspace's checks of arguments, here before any request (a ValueError or a TypeError before).
        for call, message in ((lambda: remote.members("fruit", "x"), "a cluster id is an integer >= -1"),
                              (lambda: remote.members("fruit", 0, limit="5"), "limit must be an integer >= 0"),
                              (lambda: remote.rename("fruit", None, "a"), "a cluster id is an integer >= -1"),
                              (lambda: remote.delete("fruit", 7), "items is a list of keys, not 7"),
                              (lambda: remote.export("fruit", 7, "csv"), "target is a file path or a binary stream")):
            with pytest.raises(embc.ParameterError, match=message):
                call()
        with pytest.raises(embc.ParameterError, match="iterable of records, not None$"):
            remote.ingest("fruit", None)
        assert [e.to_dict() for e in remote.events("wordnet")] == server.get("/v1/collections/wordnet/events").json()
        apple = f"text:{hashlib.sha256(b'a red apple').hexdigest()[:16]}"
        assert (remote.item("fruit", apple).text, remote.item("fruit", remote.item("fruit", apple).id).item) == (
            "a red apple", apple)
        with pytest.raises(embc.NotFound, match="no item 'nope/x#1' in collection 'fruit'"):
            remote.item("fruit", "nope/x#1")
        asks = [{"item": apple, "limit": 2}, {"text": "a plum", "limit": 1}, {"vector": [1.0] * 384}]
        assert [[h.id for h in hits] for hits in remote.similar_many("fruit", asks)] == [
            [h.id for h in remote.similar("fruit", **ask)] for ask in asks]
    assert server.delete("/v1/collections/fruit").status_code == 204


def test_the_python_client_keeps_each_request_under_the_servers_body_limit(server, tmp_path):
    """A file or a record larger than the server takes failed the whole ingest with a 413 before."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "big.txt").write_text("x" * (MAX_BODY + 1))
    for n in range(6):  # 360 KB in all: in two requests or more
        (notes / f"n{n}.txt").write_text(f"note {n} about a ship at sea " * 2_000)
    reason = f"too large for the server: a request body may hold {MAX_BODY:,} bytes (embc serve --max-body)"
    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        files = remote.ingest("limits", notes)
        assert (files.added, [(s.source, s.reason) for s in files.skipped]) == (6, [("big.txt", reason)])
        records = remote.ingest("limits", [{"id": "huge", "text": "y" * MAX_BODY}] + [
            {"id": f"r{n}", "text": f"record {n} of a harbour " * 2_500} for n in range(5)])
        assert (records.added, [(s.source, s.reason) for s in records.skipped]) == (5, [("records#0", reason)])
        assert remote.collection("limits").points == 11
    assert server.delete("/v1/collections/limits").status_code == 204


def test_a_table_larger_than_a_request_goes_in_parts_under_the_keys_a_local_ingest_gives(server, tmp_path):
    """A CSV or JSONL file over the server's body limit was skipped whole; now its rows go in parts of whole rows
    (a quoted line break stays inside its row), each keyed by its line in the whole file, and a row too large
    for any request is skipped alone."""
    from embc.ingest.items import Item
    from embc.ingest.sources import Fields, read_file

    tables = tmp_path / "tables"
    tables.mkdir()
    words = "harbour ship anchor tide sail rope mast deck keel hull".split()
    texts = [" ".join(words[(n + j) % 10] for j in range(300)) + (f"\nrow {n}" if n % 9 == 0 else f" row {n}")
             for n in range(130)]
    texts[72] = "z " * MAX_BODY + "\nz"  # no request can hold this row, of two lines
    with open(tables / "big.csv", "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["text", "label"])
        writer.writerows([text, n % 4] for n, text in enumerate(texts))
    (tables / "big.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:72] + texts[73:]))
    (tables / "latin1.csv").write_bytes(b"text\n" + b"caf\xe9 au lait\n" * 20_000)
    (tables / "untitled.csv").write_text("body\n" + "a row without a text column\n" * 20_000)
    reason = f"too large for the server: a request body may hold {MAX_BODY:,} bytes (embc serve --max-body)"
    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        result = remote.ingest("tables", tables)
        assert [(s.source, s.reason) for s in result.skipped] == [
            ("big.csv#83", reason),  # keyed by its last line: after the header, 72 rows, 9 of them of two lines
            ("latin1.csv", f"{reason}, and cannot be sent in parts: not UTF-8 text (byte 0xe9 at offset 8)"),
            ("untitled.csv", "no 'text' column (columns: body): name the text field, "
             "or embed rows of values with a table model (autoencoder, tsne, raw)")]  # once, not once a part
        for name in ("big.csv", "big.jsonl"):
            whole = [i for i in read_file(tables / name, name, Fields())
                     if isinstance(i, Item) and i.key != "big.csv#83"]
            assert len(whole) > 100 and sum(len(i.text) for i in whole) > MAX_BODY  # two parts or more
            assert {i.key: i.text for i in whole} == {i.key: remote.item("tables", i.key).text for i in whole}
        assert result.added == remote.collection("tables").points == 129 + 129
    assert server.delete("/v1/collections/tables").status_code == 204


def test_a_collection_is_not_deleted_under_a_running_job():

    from embc.errors import EmbcError
    from embc.service.jobs import Jobs

    jobs, release = Jobs(), threading.Event()
    job = jobs.start("c", lambda progress: {"waited": release.wait(60)})
    with pytest.raises(EmbcError, match=f"^a job on 'c' is running: job {job.id}; try again once it has ended$"):
        with jobs.held_off("c"):
            pass
    with jobs.held_off("another collection"):
        pass
    release.set()
    job.thread.join(60)
    with jobs.held_off("c"):
        assert job.state == "done"


def test_a_client_that_hangs_up_during_its_body_is_counted_not_logged(tmp_path):
    """Its request ended in ClientDisconnect, which the server logged twice with a traceback as a fault of its own
    and counted as a 500."""
    process, client = start_server(tmp_path)
    form = b'--B\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n' + b"y" * 100_000
    heads = [("application/json", b'{"records": [{"id": "a", "vector": [1, 2' + b", 3" * 30_000),
             ("multipart/form-data; boundary=B", form)]
    try:
        for kind, body in heads:
            for length in (b"Content-Length: 10000000", b"Transfer-Encoding: chunked"):
                with socket.create_connection(("127.0.0.1", int(client.base_url.port))) as hanging:
                    hanging.sendall(b"POST /v1/collections/c/items HTTP/1.1\r\nHost: embc\r\nAuthorization: Bearer "
                                    + KEY.encode() + b"\r\nContent-Type: " + kind.encode() + b"\r\n" + length
                                    + b"\r\n\r\n" + (b"%x\r\n" % len(body) if b"chunked" in length else b"") + body)
                    time.sleep(0.5)
        deadline = time.monotonic() + 30
        while 'status="499"} 4.0' not in (metrics := client.get("/metrics").text) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert 'embc_requests_total{method="POST",route="/v1/collections/{collection}/items",status="499"} 4.0' \
            in metrics, metrics
        assert 'status="500"' not in metrics
        assert client.get("/v1/collections/c").status_code == 404
    finally:
        process.terminate()
    log = server_log(process)
    assert "Traceback" not in log and "failed" not in log, log


def test_every_line_of_the_server_log_is_stamped(tmp_path):
    """uvicorn's own lines came without the time or `embc serve`, and told the operator to install a WebSocket
    library at every request to upgrade the connection."""
    process, client = start_server(tmp_path)
    try:
        upgrade = b"GET / HTTP/1.1\r\nHost: embc\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        for request in (b"GARBAGE\r\n\r\n", upgrade):
            with socket.create_connection(("127.0.0.1", int(client.base_url.port)), timeout=30) as raw:
                raw.sendall(request)
                assert raw.recv(100).startswith(b"HTTP/1.1 ")
    finally:
        process.send_signal(signal.SIGINT)
    lines = server_log(process).splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ embc serve: "
    assert all(re.match(stamp, line) for line in lines) and len(lines) >= 3, lines
    assert [line[len("2026-12-06T00:00:00Z "):] for line in lines if "WARNING" in line] == [
        "embc serve: WARNING: Invalid HTTP request received.", "embc serve: WARNING: Unsupported upgrade request."]


def test_a_collection_deleted_while_ingests_write_to_it_leaves_the_server_answering(tmp_path):
    """Its shard was closed under a write: the engine refused ("Already borrowed", a 500), the collection's lock
    stayed held, and every later call on any collection waited for it: the server answered nothing more."""

    process, client = start_server(tmp_path)
    statuses, stop = [], threading.Event()

    def ingest():
        for n in itertools.count():
            if stop.is_set():
                return
            records = [{"id": f"r{n}-{i}", "vector": [1.0, float(i), float(n)]} for i in range(200)]
            statuses.append(client.post("/v1/collections/c/items", json={"records": records}).status_code)

    try:
        writers = [threading.Thread(target=ingest) for _ in range(2)]
        for writer in writers:
            writer.start()
        for _ in range(5):
            time.sleep(0.7)
            statuses.append(client.delete("/v1/collections/c", timeout=60).status_code)
        stop.set()
        for writer in writers:
            writer.join(120)
        # A write whose collection went under it is a 404, as for one that was never there.
        assert set(statuses) <= {200, 204, 404} and statuses.count(204) >= 1, statuses
        after = client.post("/v1/collections/c/items", json={"records": [{"id": "last", "vector": [1.0, 2.0, 3.0]}]})
        assert after.status_code == 200 and client.get("/v1/collections/c", timeout=10).status_code == 200
    finally:
        stop.set()
        process.terminate()
        process.wait(30)


def test_a_server_keeps_the_last_thousand_ended_jobs_and_counts_them_all(monkeypatch):
    """A schedule of every 30 s ends 2,880 jobs a day per collection: kept, they grew the server without end."""
    from embc.service import jobs as module

    monkeypatch.setattr(module, "KEPT", 3)
    jobs = module.Jobs()
    ended = []
    for n in range(5):
        job = jobs.start("c", lambda progress, n=n: {"n": n} if n != 1 else 1 / 0)
        job.thread.join(60)
        ended.append(job.id)
    assert list(jobs.jobs) == ended[2:]  # the oldest two forgotten, oldest first
    assert jobs.counts() == {"queued": 0, "running": 0, "done": 4, "failed": 1, "cancelled": 0}


def test_a_cancelled_job_ends_at_its_next_step_and_a_job_that_ended_is_not_cancelled():
    from embc.errors import EmbcError, NotFound
    from embc.service.jobs import Jobs

    jobs, started, steps = Jobs(), threading.Event(), []

    def work(progress):
        started.set()
        for step in itertools.count():
            progress("fit", step, 0)
            steps.append(step)
            time.sleep(0.01)

    job = jobs.start("c", work)
    assert started.wait(60) and jobs.cancel(job.id) is job
    job.thread.join(60)
    assert (job.state, job.error, job.done) == ("cancelled", "cancelled by a client", steps[-1])
    assert jobs.counts()["cancelled"] == 1 and jobs.active("c") is None
    with pytest.raises(EmbcError, match=f"^job {job.id} has already ended: cancelled$"):
        jobs.cancel(job.id)
    with pytest.raises(NotFound, match="^no job 'nope'$"):
        jobs.cancel("nope")
    done = jobs.start("c", lambda progress: {})  # a job that ends before it is cancelled ends as it would have
    done.thread.join(60)
    assert done.state == "done"


def test_listening_beyond_loopback_without_a_key_is_refused(tmp_path):
    result = run_embc("serve", "--host", "0.0.0.0", "--port", "9", home=tmp_path)
    assert (result.returncode, result.stderr) == (1, "embc: error: refusing to listen on 0.0.0.0 without an API key: "
                                                     "pass --api-key (or EMBC_API_KEY), or listen on 127.0.0.1\n")
    # An empty key would lock every client out, a short one can be guessed, and the others cannot be sent.
    for key in ("", "k" * 15, "two words and more", "cl\u00e9-0123456789abcdef"):
        result = run_embc("serve", "--port", "9", "--api-key", key, home=tmp_path)
        assert (result.returncode, result.stderr) == (1, "embc: error: an API key is 16 or more visible ASCII "
                                                         "characters, without spaces: clients send it in a header "
                                                         "(for example: openssl rand -hex 16)\n"), key


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_embc("serve", "--port", str(port), home=tmp_path)
    assert (result.returncode, result.stderr) == (
        1, f"embc: error: cannot listen on 127.0.0.1:{port}: Address already in use (is another server there? "
           "choose another --port)\n")
    assert not (tmp_path / "serve.json").exists()  # the data directory was never claimed


def test_a_body_over_the_limit_is_refused_with_413(server):
    records = [{"id": f"r{i}", "text": "x" * 1000} for i in range(300)]  # about 320 KB
    big = server.post("/v1/collections/big/items", json={"records": records})
    assert (big.status_code, big.json()) == (413, {"error": "the request body is over the limit of 200,000 bytes",
                                                   "detail": None})

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"records": ['
        for i in range(300):
            yield json.dumps({"id": f"r{i}", "text": "x" * 1000}).encode() + (b"," if i < 299 else b"")
        yield b"]}"

    streamed = server.post("/v1/collections/big/items", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert "big" not in [c["name"] for c in server.get("/v1/collections").json()]


def test_vectors_and_parquet_larger_than_a_request_go_in_parts_and_an_arrays_ids_go_with_it(server, tmp_path):
    """A .npy or Parquet file over the server's body limit was skipped whole, and a .npy file's ids beside it
    were never sent, so that its vectors were keyed `FILE#ROW` through a server and by their ids directly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embc.ingest.items import Item
    from embc.ingest.sources import Fields, read_file
    from embc.results import Skipped

    rng = np.random.default_rng(0)
    tables = tmp_path / "tables"
    (tables / "sub").mkdir(parents=True)
    np.save(tables / "sub" / "named.npy", rng.normal(size=(900, 64)).astype(np.float32))  # 230 KB: in parts
    (tables / "sub" / "named.ids.txt").write_text("".join(f"v{n}\n" for n in range(900)))
    np.save(tables / "bare.npy", rng.normal(size=(1000, 64)))  # 512 KB of float64, without ids
    np.save(tables / "small.npy", rng.normal(size=(3, 64)).astype(np.float32))  # in one request, with its ids
    (tables / "small.ids.txt").write_text("s0\ns1\ns2\n")
    rows = [list(rng.normal(size=64)) for _ in range(600)]  # 300 KB of random float64: no compression fits it
    rows[150] = list(rng.normal(size=30_000))  # no request can hold this row
    pq.write_table(pa.table({"vector": rows}), tables / "big.parquet")
    pq.write_table(pa.table({"vector": rows[:150] + rows[151:]}), tables / "damaged.parquet", row_group_size=100)
    data = bytearray((tables / "damaged.parquet").read_bytes())
    header = pq.ParquetFile(tables / "damaged.parquet").metadata.row_group(4).column(0).data_page_offset
    data[header:header + 8] = b"\xff" * 8  # rows 400-499 cannot be read
    (tables / "damaged.parquet").write_bytes(data)
    [damaged] = [e for e in read_file(tables / "damaged.parquet", "damaged.parquet", Fields())
                 if isinstance(e, Skipped)]
    reason = f"too large for the server: a request body may hold {MAX_BODY:,} bytes (embc serve --max-body)"
    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        result = remote.ingest("arrays", tables)
        assert [(s.source, s.reason) for s in result.skipped] == [
            ("big.parquet#150", reason), ("damaged.parquet#400", damaged.reason)]  # as a local ingest reports it
        assert damaged.reason.startswith("rows 400-499 cannot be read (a damaged page): ")
        remote.recluster("arrays", "kmeans", k=2)  # an export follows a clustering
        out = io.BytesIO()
        remote.export("arrays", out, format="jsonl", vectors=True)
    stored = {row["item"]: row for row in map(json.loads, out.getvalue().splitlines())}
    local = [i for name in ("sub/named.npy", "bare.npy", "small.npy", "big.parquet", "damaged.parquet")
             for i in read_file(tables / name, name, Fields()) if isinstance(i, Item) and i.key != "big.parquet#150"]
    assert result.added == len(local) == len(stored) == 900 + 1000 + 3 + 599 + 499
    assert {"v0", "v899", "bare.npy#999", "s2", "big.parquet#599", "damaged.parquet#399", "damaged.parquet#500"} <= (
        stored.keys()) == {i.key for i in local}
    for item in local:
        unit = item.vector / np.linalg.norm(item.vector)
        assert np.allclose(stored[item.key]["vector"], unit, atol=1e-6), item.key
    alone = server.post("/v1/collections/arrays/items", files=[("files", ("w.ids.txt", b"w0\n"))]).json()
    assert alone["skipped_items"] == [{"source": "w.ids.txt", "reason": (
        "the ids of w.npy: ingest w.npy, and they are read with it")}]  # as `embc ingest w.ids.txt` says
    assert server.delete("/v1/collections/arrays").status_code == 204


def test_files_uploaded_as_multipart_are_ingested_as_the_cli_reads_them(server):
    files = [("files", ("a.txt", b"A lighthouse guides ships at night.")),
             ("files", ("notes/b.txt", b"A harbour shelters ships from the storm.")),
             ("files", ("../../escape.txt", b"A name that climbs out of the folder is refused.")),
             ("files", ("rows.jsonl", b'{"id": "r1", "text": "a cat"}\n{"id": "r2", "text": ""}\n')),
             ("files", (".hidden", b"hidden")),
             ("files", ("empty.txt", b"")),
             ("files", ("x.txt", b"A file whose name the next one takes as a folder.")),
             ("files", ("x.txt/c.txt", b"It cannot be stored there.")),
             ("files", ("é" * 200 + ".txt", b"Within 255 characters, over 255 bytes.")),
             ("files", ("é" * 200 + ".png", b"An image's name is looked up first: it once ended in a 500."))]
    uploaded = server.post("/v1/collections/uploaded/items", files=files, data={"model": "minilm"})
    assert uploaded.status_code == 200, uploaded.text
    body = uploaded.json()
    assert (body["added"], body["skipped"]) == (4, 7)
    assert {s["source"]: s["reason"] for s in body["skipped_items"] if "stored" in s["reason"]} == {
        "x.txt/c.txt": "cannot be stored under that name: File exists",
        "é" * 200 + ".txt": "cannot be stored under that name: File name too long",
        "é" * 200 + ".png": "cannot be stored under that name: File name too long"}
    assert {s["source"] for s in body["skipped_items"]} >= {"../../escape.txt", ".hidden", "empty.txt", "rows.jsonl#2"}
    assert body["skipped_items"][0] == {"source": "../../escape.txt", "reason": (
        "not a usable file name: a relative path of at most 16 parts of 1-255 characters, without '..', hidden parts "
        "or control characters")}
    keys = {h["item"] for h in server.post("/v1/collections/uploaded/similar",
                                           json={"text": "ships", "limit": 10}).json()}
    assert keys == {"a.txt", "notes/b.txt", "r1", "x.txt"}  # keys as `embc ingest` gives a folder's files
    assert not list(server.home.parent.parent.rglob("escape.txt"))
    assert (server.home / "uploads" / "uploaded").is_dir() and not list((server.home / "uploads").rglob("*.part"))
    assert server.get("/v1/collections/uploaded/items/notes%2Fb.txt").json()["item"] == "notes/b.txt"
    assert server.delete("/v1/collections/uploaded/items/notes/b.txt").status_code == 204  # a key with a slash
    again = server.post("/v1/collections/uploaded/items", files=files[:1]).json()
    assert (again["added"], again["unchanged"]) == (0, 1)
    # Text where a file goes, a body that is neither JSON nor a multipart form, an unknown field.
    text = server.post("/v1/collections/uploaded/items", files=files[:1], data={"files": "not a file"})
    assert text.status_code == 422 and text.json()["detail"][0]["msg"] == "a file field holds text, not a file"
    assert server.post("/v1/collections/uploaded/items", data={"files": "x"}).status_code == 415
    plain = server.post("/v1/collections/uploaded/items", content=b"x", headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"].startswith("send the body as")
    assert server.post("/v1/collections/uploaded/items", files=files[:1], data={"nope": "1"}).status_code == 422
    assert server.delete("/v1/collections/uploaded").status_code == 204


def test_similar_to_an_uploaded_image(server):
    pictures = sorted((FASHION / "bag").glob("*.png"))[:6] + sorted((FASHION / "sneaker").glob("*.png"))[:6]
    added = server.post("/v1/collections/pics/items",
                        files=[("files", (p.name, p.read_bytes(), "image/png")) for p in pictures]).json()
    assert added["added"] == 12 and added["skipped"] == 0
    assert all((server.home / "uploads" / "pics" / p.name).is_file() for p in pictures)  # kept: points show them
    probe = pictures[7]
    hits = server.post("/v1/collections/pics/similar", files={"image": (probe.name, probe.read_bytes())},
                       data={"limit": "3"})
    assert hits.status_code == 200, hits.text
    assert hits.json()[0]["item"] == probe.name and hits.json()[0]["score"] > 0.99
    assert {h["item"] for h in hits.json()} <= {p.name for p in pictures[6:]}  # sneakers near a sneaker
    broken = server.post("/v1/collections/pics/similar", files={"image": ("x.png", b"not an image")})
    assert broken.status_code == 422 and "cannot be read" in broken.json()["error"]
    fake = server.post("/v1/collections/pics/items", files=[("files", ("fake.png", b"not an image"))]).json()
    assert fake["skipped_items"] == [{"source": "fake.png", "reason": "not an image"}]
    assert not (server.home / "uploads" / "pics" / "fake.png").exists()  # kept only for a point that shows it
    # A broken file uploaded again under a stored image's name is skipped, and the point's image stays.
    again = server.post("/v1/collections/pics/items", files=[("files", (pictures[0].name, b"not an image")),
                                                             ("files", (pictures[1].name, b"not an image")),
                                                             ("files", (pictures[1].name, pictures[1].read_bytes()))])
    assert again.json()["skipped_items"] == [
        {"source": pictures[1].name, "reason": "another upload of this request has the same name"},
        {"source": pictures[0].name, "reason": "not an image"},
        {"source": pictures[1].name, "reason": "not an image"}]
    assert all((server.home / "uploads" / "pics" / p.name).read_bytes() == p.read_bytes() for p in pictures[:2])
    assert not [p.name for p in (server.home / "uploads" / "pics").iterdir() if p.name.startswith(".")]
    # A deleted item's uploaded image goes with it; they stayed on the server's disk before.
    assert server.delete(f"/v1/collections/pics/items/{pictures[2].name}").status_code == 204
    assert sorted(p.name for p in (server.home / "uploads" / "pics").iterdir()) == sorted(
        p.name for p in pictures if p != pictures[2])
    assert server.post("/v1/collections/pics/similar", files={"image": ("x.png", b"x")},
                       data={"limit": "0"}).status_code == 422
    # The Python client sends a PIL image as the Workspace takes one, and refuses what is neither that nor a path.
    from PIL import Image

    with embc.Client(str(server.base_url), api_key=KEY) as remote:
        assert [h.item for h in remote.similar("pics", image=Image.open(probe), limit=3)] == [
            h["item"] for h in hits.json()]
        with pytest.raises(embc.ParameterError, match="^image is a file path or a PIL image, not 5$"):
            remote.similar("pics", image=5)


def test_an_item_deleted_while_an_upload_of_it_is_embedded_goes_with_its_image(server):
    """A delete of a key that an upload is storing waits for the upload: before, it removed the newly uploaded
    file while the model ran, and the upload then stored a point whose image was gone. Deletes that wait do not
    hold the server's worker threads (40): 45 of them once left none for the other routes until the upload
    ended."""
    pictures = sorted(FASHION.glob("*/*.png"))
    folder = server.home / "uploads" / "racing"
    assert server.post("/v1/collections/racing/items",
                       files=[("files", ("k.png", pictures[0].read_bytes()))]).json()["added"] == 1
    others = [("files", (f"p{i}.png", p.read_bytes())) for i, p in enumerate(pictures[2:202])]
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(server.post, "/v1/collections/racing/items",
                             files=[("files", ("k.png", pictures[1].read_bytes())), *others])
        _until(lambda: (folder / "p199.png").is_file() or upload.done(), pause=0.01)  # saved; 200 images to embed
        assert not upload.done()
        with ThreadPoolExecutor(45) as deleters:
            deletes = [deleters.submit(server.delete, "/v1/collections/racing/items/k.png") for _ in range(45)]
            time.sleep(0.5)
            assert server.get("/v1/collections/racing/items/nowhere.png").status_code == 404  # a route with a thread
            assert not upload.done()
            assert upload.result().json()["added"] == 200
            assert sorted(d.result().status_code for d in deletes) == [204] + [404] * 44
    assert server.get("/v1/collections/racing/items/k.png").status_code == 404
    assert not (folder / "k.png").exists()
    assert server.delete("/v1/collections/racing").status_code == 204


def test_an_upload_journal_naming_a_file_the_system_refuses_is_settled_at_the_next_start(tmp_path):
    from embc.service import uploads

    folder = tmp_path / "uploads" / "pics"
    folder.mkdir(parents=True)
    (folder / "kept.png").write_bytes(b"an image stored before")
    # A server killed after writing the journal of an upload whose name was too long in bytes to store; the next
    # start once failed on looking that name up.
    (folder / uploads.JOURNAL.format("1")).write_text(json.dumps({"before": {"é" * 200 + ".png": None},
                                                                  "earlier": {}}))
    uploads.recover(folder, lambda keys: {})
    assert [p.name for p in folder.iterdir()] == ["kept.png"]


def test_a_server_killed_while_an_upload_is_embedded_leaves_each_image_with_its_point(tmp_path):
    """Killed after an upload's files were written and before its ingest stored them, a server settles them at
    its next start as the ingest would have: an image that replaced a stored one is the earlier one again (its
    point was embedded from that), the new images go, and nothing is left hidden."""
    pictures = sorted(FASHION.glob("*/*.png"))
    home = tmp_path / "home"
    folder = home / "uploads" / "killed"
    process, client = start_server(home)
    try:
        first = [("files", (f"k{i}.png", p.read_bytes())) for i, p in enumerate(pictures[:10])]
        assert client.post("/v1/collections/killed/items", files=first).json()["added"] == 10
        replacing = [("files", (f"k{i}.png", p.read_bytes())) for i, p in enumerate(pictures[10:20])]
        new = [("files", (f"n{i}.png", p.read_bytes())) for i, p in enumerate(pictures[20:220])]
        with ThreadPoolExecutor(1) as pool:
            upload = pool.submit(client.post, "/v1/collections/killed/items", files=replacing + new)
            _until(lambda: (folder / "n199.png").is_file() or upload.done(), pause=0.01)  # 210 images to embed
            assert not upload.done()
            process.kill()
            with pytest.raises(httpx.TransportError):
                upload.result()
    finally:
        process.kill()
        process.wait(30)
    assert len(list(folder.glob(".*.earlier"))) == 10 and (folder / "n0.png").is_file()  # as the kill left them
    process, client = start_server(home)
    try:
        assert not list(folder.rglob(".*"))
        kept = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert kept == {name: data for _, (name, data) in first}
        for name, data in kept.items():
            hit = client.post("/v1/collections/killed/similar", files={"image": (name, data)},
                              data={"limit": "1"}).json()[0]
            assert hit["item"] == name and hit["score"] > 0.999
    finally:
        process.terminate()
        process.wait(30)


READS = [("collections", "--json"), ("clusters", "-c", "wordnet", "--format", "table"),
         ("clusters", "-c", "wordnet", "--format", "csv"), ("cluster", "3", "-c", "wordnet", "--json"),
         ("cluster", "3", "-c", "wordnet", "-n", "3"),
         ("cluster", "noise", "-c", "wordnet", "--order", "key", "-n", "0", "--json"),
         ("similar", "--text", "a breed of dog", "-c", "wordnet", "--format", "jsonl"),
         ("similar", "--id", "wn-noun.animal-75", "-c", "wordnet", "--cluster", "1", "--json"),
         ("report", "-c", "wordnet", "--json"), ("report", "-c", "wordnet", "--runs", "--format", "csv"),
         ("export", "-c", "wordnet", "--out", "-", "--format", "csv"),
         ("cluster", "99", "-c", "wordnet"), ("clusters", "-c", "nope"), ("similar", "-c", "wordnet")]


def test_the_cli_through_a_server_prints_what_it_prints_directly(clustered_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    direct = [run_embc(*args, home=clustered_home) for args in READS]
    assert direct[-3].returncode == 1 and direct[-3].stderr.startswith("embc: error: no cluster 99")
    process, client = start_server(home)
    try:
        keyed = {"EMBC_API_KEY": KEY}
        named = [run_embc("--server", str(client.base_url), *args, env=keyed) for args in READS]
        owned = [run_embc(*args, home=home, env=keyed) for args in READS]  # found in the data directory
        for args, a, b, c in zip(READS, direct, named, owned):
            assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr), args
            # The note comes once the command needs the data: not for a usage error found before.
            note = f"embc: {home} is served by embc serve at {client.base_url}: asking it\n" * (args != READS[-1])
            assert (c.returncode, c.stdout, c.stderr) == (a.returncode, a.stdout, note + a.stderr), args
        refused = run_embc("--server", str(client.base_url), "collections")
        assert (refused.returncode, refused.stderr) == (1, "embc: error: send the API key as Authorization: "
                                                           "Bearer KEY\n")
        # Files written here from the server's answers: a figure in the format its name asks for, an output that
        # cannot be written as one line.
        for name, start in (("map.svg", b"<?xml"), ("map.pdf", b"%PDF"), ("map.png", b"\x89PNG")):
            drawn = run_embc("plot", "map", "-c", "wordnet", "--out", str(tmp_path / name), home=home, env=keyed)
            assert drawn.returncode == 0 and (tmp_path / name).read_bytes().startswith(start), drawn.stderr
        for args in (("plot", "map"), ("export", "--format", "csv")):
            blocked = run_embc(*args, "-c", "wordnet", "--out", str(tmp_path), home=home, env=keyed)
            assert (blocked.returncode, blocked.stderr.splitlines()[-1]) == (
                1, f"embc: error: cannot write {tmp_path}: it is a folder: name a file in it")
        # Writes through the server: files uploaded under the keys the CLI gives them, a recluster job.
        (tmp_path / "notes").mkdir()
        (tmp_path / "notes" / "ship.txt").write_text("A ship is a large boat that carries cargo over the sea.")
        (tmp_path / "notes" / "bad.txt").write_bytes(b"\xff\xfe\x00")
        added = run_embc("ingest", str(tmp_path / "notes"), str(tmp_path / "gone.txt"), "-c", "wordnet", "--json",
                         home=home, env=keyed)
        assert added.returncode == 0 and json.loads(added.stdout)["added"] == 1
        # A path that is not there is skipped, as `embc ingest` skips it directly, and the rest goes in.
        assert [(s["source"], s["reason"]) for s in json.loads(added.stdout)["skipped_items"]] == [
            ("bad.txt", "binary file"), (str(tmp_path / "gone.txt"), "no such file or folder")]
        run = run_embc("recluster", "-c", "wordnet", "--quiet", home=home, env=keyed)
        assert run.returncode == 0 and "(incremental:" in run.stdout, run.stdout + run.stderr
        found = run_embc("similar", "--id", "ship.txt", "-c", "wordnet", "-n", "1", "--json", home=home, env=keyed)
        assert json.loads(found.stdout)[0]["cluster"] is not None
        assert run_embc("ingest", "x", "--retrain", "-c", "wordnet", home=home, env=keyed).stderr.endswith(
            "\nembc: error: retrain: not available through embc serve (stop the server to use it on the data "
            "directory)\n")
    finally:
        process.terminate()
        process.wait(30)


def test_a_cli_interrupted_while_it_waits_for_a_job_says_the_job_goes_on_and_where(clustered_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    process, client = start_server(home)
    try:
        waiting = subprocess.Popen([sys.executable, "-m", "embc", "recluster", "-c", "wordnet", "--full"],
                                   env={**os.environ, "EMBC_URL": str(client.base_url), "EMBC_API_KEY": KEY},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert waiting.stderr.readline().startswith("embc: ")  # the job's first step: the CLI waits on it
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=60)
        job = client.get("/v1/jobs").json()[0]["id"]
        assert (waiting.returncode, err.splitlines()[-1]) == (
            130, f"embc: interrupted: job {job} goes on in the server: {client.base_url}/v1/jobs/{job} (DELETE it "
                 "to cancel the job)")
        # A full run of 1,600 points takes seconds (a fit, names from a model loaded for them, a map): cancelled
        # now, it ends at its next step, recorded as a failed run; the clusters are still the last run's.
        before = client.get("/v1/collections/wordnet/clusters").json()
        live = client.get("/v1/jobs", params={"collection": "wordnet", "live": "true"}).json()
        assert [j["id"] for j in live] == [job] and client.get("/v1/jobs", params={"collection": "w"}).json() == []
        with embc.Client(str(client.base_url), api_key=KEY) as remote:
            remote.cancel_job(job)
        _until(lambda: client.get(f"/v1/jobs/{job}").json()["state"] == "cancelled")
        assert client.get(f"/v1/jobs/{job}").json()["error"] == "cancelled by a client"
        latest = client.get("/v1/collections/wordnet/runs").json()[0]
        assert (latest["status"], latest["error"]) == ("failed", "cancelled by a client")
        assert client.get("/v1/collections/wordnet/clusters").json() == before
        again = client.delete(f"/v1/jobs/{job}")
        assert (again.status_code, again.json()["error"]) == (409, f"job {job} has already ended: cancelled")
        assert client.delete("/v1/jobs/nope").status_code == 404
        assert client.get("/v1/jobs", params={"live": "true"}).json() == []
        assert [j["id"] for j in client.get("/v1/jobs", params={"live": "false"}).json()] == [job]
        assert 'embc_jobs{state="cancelled"} 1.0' in client.get("/metrics").text
    finally:
        process.terminate()
        process.wait(30)


def test_every_reclusters_each_collection_on_a_schedule_inside_the_server(clustered_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    process, client = start_server(home, "--every", "1s")
    try:
        def scheduled() -> list[dict]:
            return [j for j in client.get("/v1/jobs").json() if j["origin"] == "schedule" and j["state"] == "done"]

        _until(lambda: scheduled())
        assert scheduled()[0]["result"]["reason"].startswith("nothing new since run")
        records = [{"id": f"new{i}", "text": f"a new kind of {w}"} for i, w in enumerate(["oak", "maple", "pine"])]
        assert client.post("/v1/collections/wordnet/items", json={"records": records}).json()["added"] == 3
        _until(lambda: any(j["result"]["mode"] == "incremental" for j in scheduled()))
        run = next(j["result"] for j in scheduled() if j["result"]["mode"] == "incremental")
        assert run["points"] == 3
        labelled = client.post("/v1/collections/wordnet/similar", json={"item": "new0", "limit": 3}).json()
        assert all(hit["cluster"] is not None for hit in labelled)
    finally:
        process.terminate()
        err = server_log(process, 30)
    assert "wordnet: run" in err and "incremental" in err  # one line per run in the server's log
    assert f" embc serve: serving {home} at {str(client.base_url).rstrip('/')}: the map at /, the API at /v1 (its " \
           "docs at /docs); Ctrl-C stops\n" in err  # where it listens, once it does


def test_a_server_loads_a_quiet_collections_model_before_its_first_question_unless_told_not_to(
        clustered_home, tmp_path):
    started = {}
    try:
        for name, args in (("ahead", ()), ("lazy", ("--lazy-models",))):
            shutil.copytree(clustered_home, tmp_path / name)
            with open(tmp_path / f"{name}.err", "w") as err:
                started[name] = start_server(tmp_path / name, *args, log=err)
        _until(lambda: "wordnet: model minilm loaded in " in (tmp_path / "ahead.err").read_text(), 300)
        time.sleep(2 * INDEX_CHECK)  # the lazy server has had as long, and longer than a tick
        assert "loaded" not in (tmp_path / "lazy.err").read_text()
        for _, client in started.values():
            hits = client.post("/v1/collections/wordnet/similar", json={"text": "a hunting dog", "limit": 3})
            assert hits.status_code == 200 and len(hits.json()) == 3
        assert "loaded" not in (tmp_path / "lazy.err").read_text()  # asked for, not loaded ahead: no line
    finally:
        for process, _ in started.values():
            process.terminate()
            process.wait(60)


def test_a_server_killed_during_an_upload_and_a_recluster_loses_and_duplicates_nothing(tmp_path):

    import numpy as np

    home = tmp_path / "home"
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 32))

    def records(first: int, n: int) -> list[dict]:
        x = centres[np.arange(first, first + n) % 6] + rng.normal(scale=0.3, size=(n, 32))
        return [{"id": f"p{first + i}", "vector": v.tolist()} for i, v in enumerate(x)]

    process, client = start_server(home)
    acknowledged: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=client.base_url, headers=dict(client.headers), timeout=30) as c:
            start = 20_000
            while not stop.is_set():
                batch = records(start, 200)
                try:
                    if c.post("/v1/collections/vecs/items", json={"records": batch}).status_code == 200:
                        acknowledged.extend(r["id"] for r in batch)
                except httpx.TransportError:
                    return  # killed with this batch in flight: neither acknowledged nor promised
                start += 200

    streamer = threading.Thread(target=stream, daemon=True)
    try:
        for first in range(0, 20_000, 5_000):
            assert client.post("/v1/collections/vecs/items", json={"records": records(first, 5_000)}).status_code == 200
        first = client.post("/v1/collections/vecs/recluster", json={"k": 6, "projection": "pca"}).json()["job_id"]
        assert _wait(client, first)["state"] == "done"
        streamer.start()
        job = client.post("/v1/collections/vecs/recluster", json={"full": True}).json()["job_id"]

        def early_in_the_label_write() -> bool:  # asked without a pause: the write takes well under a second
            step = client.get(f"/v1/jobs/{job}").json()["progress"]
            return step["step"] == "write labels" and step["done"] < step["total"] - 2
        _until(early_in_the_label_write, 120, pause=0)
        # Questions are answered from the last complete run while the job writes its labels.
        asked = [client.get("/v1/collections/vecs/clusters"),
                 client.post("/v1/collections/vecs/similar", json={"item": "p7", "limit": 3})]
        writing = client.get(f"/v1/jobs/{job}").json()["progress"]
        process.kill()
        assert [a.status_code for a in asked] == [200, 200] and asked[0].json()[0]["run_id"] == 1
        assert writing["step"] == "write labels" and writing["done"] < writing["total"], writing
    finally:
        process.kill()
        process.wait(30)
        stop.set()
        if streamer.is_alive():
            streamer.join()
    assert acknowledged

    process, client = start_server(home)  # the same directory: its locks died with the process
    try:
        rows = [json.loads(line) for line in client.get("/v1/collections/vecs/export").text.splitlines()]
        keys = [r["item"] for r in rows]
        assert len(keys) == len(set(keys))  # nothing twice
        assert set(acknowledged) <= set(keys)  # nothing acknowledged lost
        runs = client.get("/v1/collections/vecs/runs").json()
        assert runs[0]["status"] == "failed" and runs[0]["error"].startswith("interrupted")
        assert client.get("/v1/collections/vecs/clusters").status_code == 200  # from the last complete run
        again = _wait(client, client.post("/v1/collections/vecs/recluster", json={}).json()["job_id"])
        assert again["state"] == "done" and again["result"]["mode"] == "full", again
        assert again["result"]["reason"] == f"run {runs[0]['run_id']} did not complete"
        assert again["result"]["points"] == len(keys)
    finally:
        process.terminate()
        process.wait(30)


def test_a_server_stopped_during_a_recluster_ends_the_job_closes_the_store_and_lets_the_directory_go(tmp_path):
    home = tmp_path / "home"
    x = np.random.default_rng(0).normal(size=(20_000, 32))
    process, client = start_server(home)
    try:
        for first in range(0, 20_000, 5_000):
            records = [{"id": f"p{i}", "vector": x[i].tolist()} for i in range(first, first + 5_000)]
            assert client.post("/v1/collections/vecs/items", json={"records": records}).status_code == 200
        job = client.post("/v1/collections/vecs/recluster", json={"k": 6}).json()["job_id"]
        _until(lambda: client.get(f"/v1/jobs/{job}").json()["progress"]["step"] is not None, pause=0)
        process.terminate()
        err = server_log(process, 60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert not (home / "serve.json").exists()

    process, client = start_server(home)
    try:
        assert client.get("/v1/collections").json()[0]["points"] == 20_000
        runs = client.get("/v1/collections/vecs/runs").json()
        assert runs[0]["status"] == "failed" and "server stopped" in runs[0]["error"], runs
        again = _wait(client, client.post("/v1/collections/vecs/recluster", json={"k": 6}).json()["job_id"])
        assert again["state"] == "done" and again["result"]["points"] == 20_000, again
    finally:
        process.terminate()
        process.wait(60)


def test_a_client_that_never_ends_its_body_does_not_hold_up_a_stop(tmp_path):
    process, client = start_server(tmp_path)
    try:
        port = urlsplit(str(client.base_url)).port
        with socket.create_connection(("127.0.0.1", port)) as stuck:
            stuck.sendall(b"POST /v1/collections/x/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"records\": [")
            time.sleep(0.5)
            process.terminate()
            err = server_log(process, 30)  # it waited for the request before: forever
            answer = stuck.recv(4096).decode()
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 503") and json.loads(body) == {"error": "the server is stopping", "detail": None}


def test_a_body_that_stops_arriving_is_refused_with_408_and_one_that_keeps_coming_is_not(tmp_path):
    process, client = start_server(tmp_path, "--body-timeout", "2")
    head = (b"POST /v1/collections/v/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n")
    try:
        port = urlsplit(str(client.base_url)).port
        with socket.create_connection(("127.0.0.1", port), timeout=60) as stalled:
            stalled.sendall(head % 1000 + b'{"records": [')
            started, answer = time.monotonic(), b""
            while chunk := stalled.recv(4096):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - started
        body = b'{"records": [{"id": "a", "vector": [1, 0]}]}'
        with socket.create_connection(("127.0.0.1", port), timeout=60) as slow:  # 2.5 s in all, 0.5 s a part
            slow.sendall(head % len(body))
            for start in range(0, len(body), 10):
                time.sleep(0.5)
                slow.sendall(body[start:start + 10])
            slow_answer = slow.recv(4096).decode()
        points = client.get("/v1/collections/v").json()["points"]
    finally:
        process.terminate()
        process.wait(30)
    status, _, error = answer.decode().partition("\r\n\r\n")
    assert status.startswith("HTTP/1.1 408") and "connection: close" in status.lower() and waited >= 2, status
    assert json.loads(error) == {"error": "the request body stopped arriving: nothing more came for 2 s",
                                 "detail": None}
    assert slow_answer.startswith("HTTP/1.1 200") and points == 1, slow_answer


def test_headers_that_do_not_all_arrive_in_time_get_408_and_the_connection_closes(tmp_path):
    process, client = start_server(tmp_path, "--header-timeout", "2")
    port = urlsplit(str(client.base_url)).port

    def answer(parts: list[bytes], pause: float) -> tuple[bytes, float]:
        """All the server sends on a connection fed `parts` `pause` seconds apart, and how long until it closed."""
        # The clock starts before the connection: the server's starts when it accepts, which may come before
        # create_connection returns.
        started, got = time.monotonic(), b""
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            for part in parts:
                time.sleep(pause)
                conn.sendall(part)
            while chunk := conn.recv(4096):
                got += chunk
            return got, time.monotonic() - started

    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nConnection: close\r\n\r\n"
    try:
        silent, silent_wait = answer([], 0)
        trickled, trickled_wait = answer([request[i:i + 8] for i in range(0, 32, 8)], 0.4)  # 1.6 s, not all
        slow_but_in_time, _ = answer([request[i:i + 16] for i in range(0, len(request), 16)], 0.2)
        assert client.get("/healthz").status_code == 200
    finally:
        process.terminate()
        err = server_log(process, 30)
    for refused, waited in ((silent, silent_wait), (trickled, trickled_wait)):
        head, _, body = refused.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 408") and "connection: close" in head and 2 <= waited < 10, (head, waited)
        assert json.loads(body) == {"error": "the request headers did not all arrive within 2 s", "detail": None}
    assert slow_but_in_time.startswith(b"HTTP/1.1 200"), slow_but_in_time
    assert "Traceback" not in err, err


def test_a_kept_alive_connection_outlives_a_clients_idle_expiry(tmp_path):
    """httpx drops a pooled connection idle for 5 s; a server that closed it at the same 5 s let a client send
    a request on a connection being closed, which was reset (the likely cause of one reset in the write fuzz)."""
    import http.client

    process, client = start_server(tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(str(client.base_url)).port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        held = conn.sock
        time.sleep(6)
        conn.request("GET", "/healthz")  # on the same socket: one the server closed would end in an error
        again = conn.getresponse()
        assert conn.sock is held and (first.status, again.status) == (200, 200)
        assert json.loads(again.read())["status"] == "ok"
    finally:
        conn.close()
        process.terminate()
        process.wait(30)


def test_a_connection_past_the_most_held_open_gets_503_and_the_others_are_served(tmp_path):
    """Idle connections held every file descriptor a client could make the server open; now those past
    --max-connections are answered at once and closed, and a connection opens again once one has closed."""
    process, client = start_server(tmp_path, "--max-connections", "3")
    port = urlsplit(str(client.base_url)).port
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    def answer(conn: socket.socket) -> bytes:
        conn.sendall(request)
        got = b""
        while chunk := conn.recv(4096):
            got += chunk
        return got

    client.close()  # its pooled connection would count among the three
    try:
        held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(3)]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as extra:
            refused = answer(extra)
        first = answer(held.pop())  # the server answers those it holds
        _until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, 10)  # room again
        for conn in held:
            conn.close()
    finally:
        process.terminate()
        err = server_log(process, 30)
    head, _, body = refused.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 503") and "retry-after: 1" in head and "connection: close" in head, head
    assert json.loads(body) == {"error": "the server holds the most connections it keeps open (3, embc serve "
                                "--max-connections): try again shortly", "detail": None}
    assert first.startswith(b"HTTP/1.1 200"), first
    assert "Traceback" not in err, err


def test_the_compose_service_command_and_its_healthcheck_run_as_written(tmp_path):
    """docker-compose.yml's embc service, run here as written (with the embedded store: no Qdrant server runs
    on these machines): its command serves beyond loopback with the key, and its healthcheck passes."""
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())["services"]
    service = spec["embc"]
    shell, flag, line = service["command"]
    line = line.replace("$$", "$").replace("--port 8000", f"--port {_free_port()}")
    port = int(line.split("--port ")[1].split()[0])
    env = {**os.environ, "EMBC_HOME": str(tmp_path), "EMBC_API_KEY": KEY, "EMBC_EVERY": "1h", "PATH": str(
        Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    process = subprocess.Popen([shell, flag, line], env=env, stderr=subprocess.PIPE, text=True)
    try:
        check = service["healthcheck"]["test"][1:]
        check = [part.replace("8000", str(port)) for part in check]
        _until(lambda: subprocess.run([sys.executable if c == "python" else c for c in check]).returncode == 0, 60)
        public = httpx.get(f"http://127.0.0.1:{port}/v1/collections")
        assert public.status_code == 401
    finally:
        process.terminate()
        process.wait(30)


def _until(condition, seconds: float = 120, pause: float = 0.3) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(pause)


def test_questions_are_answered_while_a_recluster_job_runs(server):
    job = server.post("/v1/collections/wordnet/recluster", json={"k": 9, "projection": "pca"}).json()["job_id"]
    statuses = []
    while server.get(f"/v1/jobs/{job}").json()["state"] in ("queued", "running"):
        statuses.append(server.get("/v1/collections/wordnet/clusters").status_code)
        statuses.append(server.post("/v1/collections/wordnet/similar", json={"text": "a dog", "limit": 1}).status_code)
        statuses.append(server.get("/v1/collections/wordnet/runs").status_code)
    assert statuses and set(statuses) == {200}
    assert _wait(server, job)["state"] == "done"


def test_kept_answers_change_with_every_write(server):
    """The cluster list and pages of members are kept until the next write: each kind of write shows at once."""
    texts = ["a puppy chewing a slipper", "a cat chasing a mouse", "a horse in a field", "a bowl of tomato soup",
             "fresh bread from the oven", "a plate of spaghetti"]
    server.post("/v1/collections/kept/items", json={"records": [{"id": f"k{i}", "text": t}
                                                                for i, t in enumerate(texts)]})
    assert _wait(server, server.post("/v1/collections/kept/recluster",
                                     json={"k": 2, "projection": "none"}).json()["job_id"])["state"] == "done"
    clusters = server.get("/v1/collections/kept/clusters").json()
    assert server.get("/v1/collections/kept/clusters").json() == clusters
    page = server.get("/v1/collections/kept/clusters/0/items").json()["items"]
    assert server.get("/v1/collections/kept/clusters/0/items").json()["items"] == page

    assert server.delete(f"/v1/collections/kept/items/{page[0]['item']}").status_code == 204
    assert [e["item"] for e in server.get("/v1/collections/kept/clusters/0/items").json()["items"]] == [
        e["item"] for e in page[1:]]
    assert server.get("/v1/collections/kept/clusters").json()[0]["size"] == clusters[0]["size"] - 1
    assert server.put("/v1/collections/kept/clusters/1/name", json={"name": "Renamed"}).status_code == 204
    assert server.get("/v1/collections/kept/clusters").json()[1]["name"] == "Renamed"
    assert server.delete("/v1/collections/kept").status_code == 204
    assert server.get("/v1/collections/kept/clusters").status_code == 404
    assert server.get("/v1/collections/kept/clusters/0/items").status_code == 404


def test_export_streams_every_point_as_json_lines_csv_or_parquet(server):
    import io

    import pyarrow.parquet as pq

    lines = server.get("/v1/collections/wordnet/export").text.splitlines()
    assert len(lines) == 1600 and set(json.loads(lines[0])) >= {"id", "item", "cluster", "cluster_name", "x", "y"}
    as_csv = server.get("/v1/collections/wordnet/export", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv") and len(as_csv.text.splitlines()) == 1601
    as_tsv = server.get("/v1/collections/wordnet/export", params={"format": "tsv"})
    assert as_tsv.headers["content-type"].startswith("text/tab-separated-values")
    assert as_tsv.text.splitlines()[0].split("\t")[:2] == ['"id"', '"item"']
    documented = server.get("/openapi.json").json()["paths"]["/v1/collections/{collection}/export"]["get"]
    served = {as_tsv.headers["content-type"].split(";")[0], "text/csv", "application/x-ndjson",
              "application/vnd.apache.parquet"}
    assert set(documented["responses"]["200"]["content"]) >= served
    parquet = server.get("/v1/collections/wordnet/export", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 1600
    with_vectors = server.get("/v1/collections/wordnet/export", params={"vectors": "true"}).text.splitlines()
    assert len(with_vectors) == 1600 and len(json.loads(with_vectors[0])["vector"]) == 384
    refused = server.get("/v1/collections/wordnet/export", params={"vectors": "true", "format": "csv"})
    assert refused.status_code == 422 and refused.json()["error"].startswith("vectors cannot go into CSV")
    missing = server.get("/v1/collections/nope/export")
    assert missing.status_code == 404 and missing.json()["error"].startswith("no collection 'nope'")


def _fuzz(server, writes: bool, examples: int, mode: GenerationMode = GenerationMode.POSITIVE) -> int:
    """Schemathesis over the read and query operations, or over those that write (`writes`), bounded and on
    loopback: no 5xx, every response as the schema says, and in the NEGATIVE `mode` (requests outside the schema)
    each refused with a 4xx. Half the cases name the wordnet collection, which is never deleted whole. The number
    of operations fuzzed."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", headers=dict(server.headers))
    fuzzed, turn = 0, itertools.count()
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        writing = method in ("DELETE", "PUT") or method == "POST" and operation.path.endswith(
            ("/items", "/recluster", "/decoder"))
        if writing != writes:
            continue
        whole = method == "DELETE" and operation.path == "/v1/collections/{collection}"
        # Not negative_data_rejection for items: a batch skips a record of the wrong shape with its reason (a 200).
        excluded = [positive_data_acceptance] + ([negative_data_rejection] if operation.path.endswith("/items") else [])

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(mode))
        def check(case):
            if "collection" in (case.path_parameters or {}) and next(turn) % 2 and not whole:
                case.path_parameters["collection"] = "wordnet"  # half the cases reach the data, not a 404
            # Not positive_data_acceptance: a request can fit the schema and still be refused with a 422 by
            # the data (a vector of another dimension than the collection's).
            # Schemathesis waits 10 s for an answer by default: a server's first text loads its model, which
            # took longer on a loaded machine (a ReadTimeout in a full run on 2 cores).
            case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"},
                                   excluded_checks=excluded, timeout=120)

        try:
            check()
        except Unsatisfiable:  # an operation with no parameters and no body: no request is outside its schema
            assert mode == GenerationMode.NEGATIVE
            continue
        fuzzed += 1
    return fuzzed


def test_the_api_never_answers_5xx_and_always_matches_its_schema(server):
    assert _fuzz(server, writes=False, examples=25) >= 8


def test_requests_outside_the_schema_are_refused_with_a_4xx(server):
    """An unknown query parameter was ignored and a vector of booleans read as ones and zeros, each answered as
    if it had been asked right. The writes: test_writes_never_answer_5xx_and_always_match_the_schema."""
    assert _fuzz(server, writes=False, examples=25, mode=GenerationMode.NEGATIVE) >= 8


def test_writes_never_answer_5xx_and_always_match_the_schema(clustered_home, tmp_path):
    """The same over every operation that writes (uploads, deletes, reclusters, renames, decoders), on a server
    of its own; and requests outside the schema refused with a 4xx, but for items, of which a batch skips those of
    the wrong shape."""
    shutil.copytree(clustered_home, tmp_path / "home")
    process, client = start_server(tmp_path / "home", "--max-body", str(MAX_BODY))
    try:
        assert _fuzz(client, writes=True, examples=20) >= 7
        assert _fuzz(client, writes=True, examples=20, mode=GenerationMode.NEGATIVE) >= 6
        assert client.get("/v1/collections/wordnet").status_code == 200
    except BaseException:
        process.terminate()
        print("the server's output:", server_log(process, 60)[-4000:])  # shown with the failure
        raise
    finally:
        process.terminate()
        process.wait(60)


def test_concurrent_ingests_deletes_questions_and_reclusters_lose_duplicate_and_mislabel_nothing(tmp_path):
    """Four clients ingest, re-ingest, delete and ask about keys of their own while a fifth reclusters, full or
    incremental, for 20 seconds; then every key that should be there is there once, with a label."""
    import random

    centres = np.random.default_rng(0).normal(size=(5, 16)) * 4
    process, http = start_server(tmp_path / "home")
    stop, problems, kept = threading.Event(), [], {}

    def writer(t: int) -> None:
        rng, pick = np.random.default_rng(t), random.Random(t)
        keys, mine = [f"t{t}-{i}" for i in range(2000)], kept.setdefault(t, set())
        with embc.Client(str(http.base_url), api_key=KEY) as client:
            while not stop.is_set():
                try:
                    if pick.random() < 0.6 or not mine:
                        chosen = pick.sample(keys, pick.randint(1, 200))
                        client.ingest("v", [(k, centres[hash(k) % 5] + rng.normal(size=16)) for k in chosen])
                        mine.update(chosen)
                    elif pick.random() < 0.5:
                        chosen = pick.sample(keys, pick.randint(1, 100))
                        if client.delete("v", chosen) != len(mine & set(chosen)):
                            problems.append("a delete counted other points than were there")
                        mine.difference_update(chosen)
                    elif mine:
                        client.similar("v", item=pick.choice(sorted(mine)), limit=5)
                except embc.EmbcError as exc:
                    problems.append(str(exc))

    def reclusterer() -> None:
        pick = random.Random(9)
        # The first ingest makes the collection before it stores points: a run then finds none to cluster.
        _until(lambda: http.get("/v1/collections/v").json().get("points", 0) > 0)
        with embc.Client(str(http.base_url), api_key=KEY) as client:
            while not stop.is_set():
                try:
                    client.recluster("v", "kmeans", 5, full=pick.random() < 0.4, projection="pca")
                except embc.EmbcError as exc:
                    if "no collection" not in str(exc):
                        problems.append(f"recluster: {exc}")

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)] + [threading.Thread(target=reclusterer)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(20)
        stop.set()
        for thread in threads:
            thread.join(300)
        with embc.Client(str(http.base_url), api_key=KEY) as client:
            jobs = http.get("/v1/jobs").json()
            assert jobs and all(j["state"] == "done" for j in jobs), [j["error"] for j in jobs if j["error"]]
            client.recluster("v")  # assigns what came in after the last run
            out = io.BytesIO()
            client.export("v", out, format="jsonl")
            rows = [json.loads(line) for line in out.getvalue().splitlines()]
            expected = set().union(*kept.values())
            assert sorted(r["item"] for r in rows) == sorted(expected)  # each key once, none lost, none back
            assert all(r["cluster"] is not None for r in rows)
            assert sum(c.size for c in client.clusters("v")) == len(expected)
    finally:
        stop.set()
        process.terminate()
        process.wait(60)
    assert not problems, problems[:5]
