"""`embc serve` under load over loopback, against the bare engine on the same collection: `make bench`.

A collection of N precomputed 384-d vectors (default 100,000) with a complete k-means run, and the WordNet
sample embedded with MiniLM (for similar-by-text, whose cost is the sentence's embedding, not the collection's
size). First the floor: the engine's own retrieve-then-search by item, in-process on a copy of the collection's
shard, searched exactly and then with the index the engine builds. Then the server starts, and builds the
collection's vector index beside its questions; once it has, 16 clients (asyncio, one keep-alive connection
each) ask, one kind of question at a time, for a fixed number of requests each: the cluster list, a page of 50
members, a page of members never asked before (which the server cannot have kept), similar by item, similar by
text. Then the same mix while an ingest streams 500 items/s into the collection and a full recluster runs,
counting errors and checking afterwards that every acknowledged item is there.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import httpx
import numpy as np

from embc.store.embedded import INDEX_FROM

from run import DIM, WORDNET, make_vectors

CLIENTS = 16
NAME = "served"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(home: Path, n: int) -> None:
    """The collections the server will answer from, each with a complete run."""
    from embc import Workspace

    with Workspace(home) as ws:
        X = make_vectors(n)
        ws.ingest(NAME, ((f"p{i}", v) for i, v in enumerate(X)))
        ws.recluster(NAME, "kmeans", 50, seed=0, projection="pca")
        ws.ingest("wordnet", WORDNET)
        ws.recluster("wordnet", "kmeans", 8, seed=0, projection="pca")


def start(home: Path, collection: str = NAME) -> tuple[subprocess.Popen, str]:
    """`embc serve` over `home` (its stderr passed on), and its URL once it answers and, where it indexes
    `collection` (INDEX_FROM points or more), has built its vector index in the background, as it does after
    it starts: measured without a build beside it."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "embc", "serve", "--port", str(port)],
                               env={**os.environ, "EMBC_HOME": str(home)}, stderr=subprocess.PIPE, text=True)
    indexed = threading.Event()

    def watch() -> None:
        for line in process.stderr:
            sys.stderr.write(line)
            if f"{collection}: vector index built" in line:
                indexed.set()

    threading.Thread(target=watch, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while time.monotonic() < started + 120:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        raise SystemExit("embc serve did not start")
    if httpx.get(f"{url}/v1/collections/{collection}").json()["points"] < INDEX_FROM:
        return process, url
    if not indexed.wait(1200):
        process.kill()
        raise SystemExit(f"embc serve did not index '{collection}' within 20 minutes")
    print(f"the server indexed '{collection}' {time.monotonic() - started:.0f} s after it started", file=sys.stderr)
    return process, url


Ask = Callable[[random.Random], tuple[str, str, "bytes | None"]]  # a random request: method, path, JSON body


def questions(n: int) -> dict[str, Ask]:
    """Each kind of question, as a function of a random generator."""
    base = f"/v1/collections/{NAME}"
    fresh = itertools.count()  # a (cluster, page size) never asked before: an answer the server has not kept
    return {
        "cluster list": lambda r: ("GET", f"{base}/clusters", None),
        "members (page of 50)": lambda r: ("GET", f"{base}/clusters/{r.randrange(50)}/items?limit=50", None),
        "members, never asked before (a page of 50 or more)": lambda r: (
            "GET", f"{base}/clusters/{(i := next(fresh)) % 50}/items?limit={50 + i // 50}", None),
        "similar by item": lambda r: ("POST", f"{base}/similar", json.dumps({"item": f"p{r.randrange(n)}"}).encode()),
        "similar by text": lambda r: ("POST", "/v1/collections/wordnet/similar",
                                      json.dumps({"text": f"a kind of {r.choice(WORDS)}"}).encode()),
    }


WORDS = ["dog", "tree", "river", "engine", "song", "fever", "coin", "castle", "storm", "violin"]


async def _client(url: str, asks: list[Ask], seed: int, per_client: int | None, until: threading.Event | None,
                  latencies: list[float], errors: list[str]) -> None:
    """One client on one keep-alive connection, in plain HTTP/1.1: a load generator that takes little of the
    cores it shares with the server (16 httpx clients in threads took as much CPU as the server's routes)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    reader, writer = await asyncio.open_connection(host, port)
    r = random.Random(seed)
    done = 0
    try:
        while (per_client is None or done < per_client) and not (until and until.is_set()):
            method, path, body = asks[done % len(asks)](r)
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            start = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            status = int((await reader.readline()).split()[1])
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            payload = await reader.readexactly(int(headers[b"content-length"]))
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(f"{status} {payload[:200]!r}")
            done += 1
    finally:
        writer.close()


def load(url: str, asks: list[Ask], per_client: int | None = None, until: threading.Event | None = None,
         clients: int = CLIENTS) -> dict:
    """`clients` clients asking in turn (a fixed count each, or until the event is set): latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        await asyncio.gather(*(_client(url, asks, i, per_client, until, latencies, errors) for i in range(clients)))

    start = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "requests": len(ms),
            "rps": len(ms) / wall, "errors": errors}


def under_writes(url: str, n: int, asks: list) -> dict:
    """The questions while an ingest streams 500 items/s and a full recluster runs; then the acknowledged
    items are counted."""
    acknowledged: list[str] = []
    stop = threading.Event()
    extra = make_vectors(200_000, seed=1)

    def stream() -> None:  # 50 items every 0.1 s
        with httpx.Client(base_url=url, timeout=60) as c:
            first = n
            while not stop.is_set():
                tick = time.perf_counter()
                keys = [f"p{i}" for i in range(first, first + 50)]
                body = {"records": [{"id": k, "vector": v.tolist()} for k, v in zip(keys, extra[first - n:])]}
                if c.post(f"/v1/collections/{NAME}/items", json=body).status_code == 200:
                    acknowledged.extend(keys)
                first += 50
                time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))

    with httpx.Client(base_url=url, timeout=60) as c:
        job = c.post(f"/v1/collections/{NAME}/recluster", json={"full": True}).json()["job_id"]
        streamer = threading.Thread(target=stream)
        streamer.start()

        def watch() -> None:
            while c.get(f"/v1/jobs/{job}").json()["state"] in ("queued", "running"):
                time.sleep(0.5)
            stop.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        result = load(url, asks, until=stop)
        watcher.join()
        streamer.join()
        state = c.get(f"/v1/jobs/{job}").json()
        points = next(x["points"] for x in c.get("/v1/collections").json() if x["name"] == NAME)
    result.update(job=state["state"], acknowledged=len(acknowledged), present=points - n)
    return result


def floors(home: Path, n: int, count: int = 400) -> dict[bool, float]:
    """p50 ms of the engine's own retrieve-then-search by item, in-process on a copy of the collection's shard:
    searched exactly (False), then once the engine has built its index (True), with the server's settings."""
    from qdrant_edge import EdgeShard, Query, QueryRequest

    from embc.ingest.items import point_id
    from embc.store.indexing import SEARCH

    copy = Path(tempfile.mkdtemp(prefix="embc-floor-")) / "shard"
    shutil.copytree(home / "collections" / NAME / "shard", copy)
    shard = EdgeShard.load(str(copy))
    p50 = {}
    for indexed in (False, True):
        if indexed:
            shard.optimize()
        r = random.Random(0)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            point = shard.retrieve([point_id(f"p{r.randrange(n)}")], with_payload=False, with_vector=True)[0]
            shard.query(QueryRequest(limit=10, query=Query.Nearest(point.vector), with_payload=True, params=SEARCH))
            times.append(time.perf_counter() - start)
        p50[indexed] = statistics.median(times) * 1000
    shard.close()
    shutil.rmtree(copy.parent)
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="Points in the collection.")
    parser.add_argument("--requests", type=int, default=100, help="Requests per client and kind of question.")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="embc-serve-bench-"))
    try:
        started = time.perf_counter()
        build(home, args.n)
        print(f"built {args.n:,} points with a run in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        floor = floors(home, args.n)
        process, url = start(home)
        try:
            kinds = questions(args.n)
            for ask in kinds.values():  # the first of each loads what it needs
                load(url, [ask], 1, clients=1)
            rows = {name: load(url, [ask], args.requests) for name, ask in kinds.items()}
            alone = load(url, [kinds["similar by item"]], args.requests * 4, clients=1)
            busy = under_writes(url, args.n, [kinds["members (page of 50)"], kinds["similar by item"],
                                              kinds["cluster list"]])
        finally:
            process.terminate()
            process.wait(60)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"| question ({args.n:,} x {DIM}, {CLIENTS} clients) | p50 ms | p99 ms | requests/s | errors |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {len(r['errors'])} |")
    print(f"| members, similar by item, cluster list, while 500 items/s stream in and a full recluster runs "
          f"(job {busy['job']}) | {busy['p50']:.1f} | {busy['p99']:.1f} | {busy['rps']:.0f} | {len(busy['errors'])} |")
    print(f"\nacknowledged items streamed in: {busy['acknowledged']:,}; present afterwards: {busy['present']:,}")
    indexed = args.n >= INDEX_FROM  # the server searches a smaller collection exactly
    print(f"similar by item, one client at a time: p50 {alone['p50']:.1f} ms, p99 {alone['p99']:.1f} ms; the bare "
          f"engine's retrieve+search in-process {'with its index' if indexed else 'searched exactly'} p50 "
          f"{floor[indexed]:.1f} ms: **{alone['p50'] / floor[indexed]:.2f}x** the floor (searched exactly: "
          f"{floor[False]:.1f} ms, with the index: {floor[True]:.1f} ms)")
    for r in [*rows.values(), busy]:
        for error in r["errors"][:3]:
            print("error:", error, file=sys.stderr)


if __name__ == "__main__":
    main()
