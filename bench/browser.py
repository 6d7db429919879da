"""First paint of the browser map in headless Chromium (Debian's, driven by Playwright), at 100k and 1M points:
`make bench`. Each collection holds precomputed vectors around 50 topics (32-d: the map's cost depends on the
points, not their dimension) with a complete k-means run and a PCA map; the time is from navigation to the
page's first complete drawing (`window.embcMap.ready`), the page's own requests included, measured twice per
size (the first also loads what the server keeps in memory afterwards)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from serve import start

DIM = 32


def build(home: Path, n: int) -> None:
    from embc import Workspace

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, DIM)).astype(np.float32)
    with Workspace(home) as ws:
        for first in range(0, n, 100_000):
            size = min(100_000, n - first)
            X = centres[rng.integers(0, 50, size)] + rng.normal(scale=0.8, size=(size, DIM)).astype(np.float32)
            ws.ingest("map", ((f"p{first + i}", v) for i, v in enumerate(X)))
        ws.recluster("map", "kmeans", 50, seed=0, projection="pca", n_init=1)


def first_paint(url: str, repeats: int = 2) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        for _ in range(repeats):
            # The wait evaluates a string in the page, which the page's policy forbids.
            page = browser.new_page(viewport={"width": 1200, "height": 800}, bypass_csp=True)
            start_time = time.perf_counter()
            page.goto(f"{url}/c/map")
            page.wait_for_function("window.embcMap && window.embcMap.ready", timeout=120_000)
            times.append(time.perf_counter() - start_time)
            page.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        home = Path(tempfile.mkdtemp(prefix="embc-map-bench-"))
        try:
            started = time.perf_counter()
            build(home, n)
            print(f"built {n:,} points with a run in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            process, url = start(home, "map")
            try:
                times = first_paint(url)
            finally:
                process.terminate()
                process.wait(60)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        rows.append(f"| {n:,} | {times[0]:.2f} | {min(times[1:]):.2f} |")
    print("| points | first paint, first visit (s) | first paint, again (s) |")
    print("| --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
