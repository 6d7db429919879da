"""The map in a real browser: Debian's chromium, driven by Playwright, against a real `embc serve` on the WordNet
sample. Without a browser these tests skip with one line, except under CI=true, where a missing browser fails."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from embc.wording import shortened
from helpers import FASHION, ROOT
from test_service import KEY, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IMAGES = ROOT / "images"

if not CHROMIUM:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but no chromium: apt-get install -y chromium (as .ci/run does)")
    pytest.skip("no chromium on PATH: browser tests skipped (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402  (only where a browser runs)


@pytest.fixture(scope="module")
def served(clustered_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("browsed") / "home"
    shutil.copytree(clustered_home, home)
    process, client = start_server(home)
    for path in ("", "/report", "/runs", "/clusters", "/map", "/map/ids", "/map/labels"):  # the server's first
        assert client.get(f"/v1/collections/wordnet{path}").status_code == 200  # imports, before any page waits
    yield client
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:  # seen once in the same CI run; the map tests are done by then
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        # The browser's first WebGL2 context starts its GPU process and software renderer: on a loaded machine,
        # minutes that the first map's wait would otherwise count.
        warm = launched.new_page()
        warm.evaluate("document.createElement('canvas').getContext('webgl2').getParameter(0x1F02)")
        warm.close()
        yield launched
        launched.close()


@pytest.fixture
def page(browser, served):
    """A page that has the API key (as a user who typed it), recording console errors and every request."""
    # Playwright's waits evaluate strings in the page, which the pages' policy forbids: the policy itself is
    # tested without this bypass.
    context = browser.new_context(viewport={"width": 1200, "height": 800}, bypass_csp=True)
    context.add_init_script(f"sessionStorage.setItem('embc-key', '{KEY}')")
    opened = context.new_page()
    opened.errors, opened.requests = [], []
    opened.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: opened.errors.append(str(e)))
    opened.on("request", lambda r: opened.requests.append(r.url))
    yield opened
    context.close()


def _open_map(page, served, collection: str = "wordnet") -> None:
    page.goto(f"{served.base_url}/c/{collection}")
    _wait_for_map(page)


def _wait_for_map(page) -> None:
    # Fresh-clone CI runs on a loaded machine waited over 60 s, and once over 180 s, for the module's first map
    # (the other maps took seconds): the browser and the server are warmed up in their fixtures, and the wait
    # is generous.
    page.wait_for_function("window.embcMap && window.embcMap.ready", timeout=300_000)


def _pixels(page) -> dict[tuple[int, int, int], int]:
    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator("#canvas").screenshot())).convert("RGB")
    return {colour: count for count, colour in shot.getcolors(maxcolors=1 << 20)}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def test_the_map_draws_every_cluster_in_its_colour(page, served):
    _open_map(page, served)
    clusters = served.get("/v1/collections/wordnet/clusters").json()
    pixels = _pixels(page)
    for cluster in clusters:
        colour = _rgb(page.evaluate(f"window.embcMap.colourOf({cluster['id']})"))
        assert pixels.get(colour, 0) >= 20, (cluster, colour)
    assert page.evaluate("window.embcMap.n") == 1600
    if os.environ.get("EMBC_UPDATE_IMAGES"):  # the README's screenshot
        page.screenshot(path=str(IMAGES / "browser-map.png"))
    assert page.errors == []
    assert all(url.startswith(str(served.base_url)) for url in page.requests), page.requests


def test_a_runs_clusters_get_distinct_colours_however_high_their_ids_and_as_the_thumbnails_do(page, served):
    """Ids last across runs and grow: by id alone (modulo the palette's 20 colours) clusters 1 and 21 shared one.
    The page and the server's thumbnails choose alike."""
    from embc.service.map import colour_slots

    _open_map(page, served)
    rng = np.random.default_rng(0)
    drawn = [rng.choice(60, size=int(rng.integers(1, 30)), replace=False).tolist() for _ in range(20)]
    for ids in ([1, 21], [-1, 40, 0, 20], list(range(25)), *drawn):
        slots = {int(k): v for k, v in page.evaluate("(ids) => window.embcMap.slots(ids)", ids).items()}
        assert slots == colour_slots(ids, 20), ids
        clusters = set(ids) - {-1}
        assert slots.keys() == clusters and len(set(slots.values())) == min(len(clusters), 20), ids
    assert colour_slots([1, 21], 20) == {1: 1, 21: 2}


NAMES = """[...document.querySelectorAll('#names span')].map((s) => {
  const r = s.getBoundingClientRect();
  return {name: s.textContent, shown: !s.hidden, box: [r.left, r.top, r.right, r.bottom]};
})"""


def _names(page) -> tuple[list[dict], list[dict]]:
    """The map's cluster names, shown and hidden."""
    names = page.evaluate(NAMES)
    return [n for n in names if n["shown"]], [n for n in names if not n["shown"]]


def _apart(shown: list[dict]) -> bool:
    from embc.report.labels import overlaps

    return not any(overlaps(a["box"], b["box"]) for n, a in enumerate(shown) for b in shown[n + 1:])


def test_cluster_names_never_cover_each_other_zoomed_out_the_largest_shows(page, served):
    _open_map(page, served)
    shown, hidden = _names(page)
    assert len(shown) == 8 and not hidden and _apart(shown)
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 2500)  # out, to a twelfth of the size: the eight centres crowd together
    page.wait_for_function("[...document.querySelectorAll('#names span')].some((s) => s.hidden)")
    shown, hidden = _names(page)
    assert _apart(shown) and len(shown) + len(hidden) == 8
    largest = max(served.get("/v1/collections/wordnet/clusters").json(), key=lambda c: c["size"])
    assert ", ".join(largest["name"].split(", ")[:2]) in [n["name"] for n in shown]
    page.mouse.wheel(0, -2500)  # and back
    page.wait_for_function("![...document.querySelectorAll('#names span')].some((s) => s.hidden)")
    assert page.errors == []


def test_hover_shows_the_item_under_the_cursor(page, served):
    _open_map(page, served)
    for index in (5, 777):
        x, y = page.evaluate(f"window.embcMap.screenOf({index})")
        page.mouse.move(x, y)
        page.wait_for_function(f"document.querySelector('#tooltip').dataset.index == '{index}' && "
                               "!document.querySelector('#tooltip').hidden")
        # The point under the cursor may be another drawn on top of it: the tooltip names the nearest one.
        expected = served.get(f"/v1/collections/wordnet/map/{index}").json()
        assert page.inner_text("#tooltip").splitlines()[0] == expected["item"]
    assert page.errors == []


def test_a_legend_click_lists_the_members_the_api_lists(page, served):
    _open_map(page, served)
    page.click("#legend li[data-cluster='3']")
    page.wait_for_function("document.querySelectorAll('#members li').length == 50")
    shown = [li.get_attribute("data-id") for li in page.query_selector_all("#members li")]
    listed = served.get("/v1/collections/wordnet/clusters/3/items", params={"limit": 50}).json()["items"]
    assert shown == [e["id"] for e in listed]
    # Each member shows its key and the start of its text, a long text cut at a word's end.
    texts = [li.text_content() for li in page.query_selector_all("#members li")]
    assert texts == [f"{e['item']} — {shortened(e['text'], 120)}" for e in listed]
    assert any(t.endswith("…") for t in texts)
    page.click("#more")
    page.wait_for_function("document.querySelectorAll('#members li').length > 50")
    size = served.get("/v1/collections/wordnet/clusters").json()[3]["size"]
    assert len(page.query_selector_all("#members li")) == min(size, 100)
    # A click on a point of the map opens that point's cluster.
    index = next(i for i in range(1600) if page.evaluate(f"window.embcMap.cluster({i})") == 5)
    x, y = page.evaluate(f"window.embcMap.screenOf({index})")
    page.mouse.click(x, y)
    page.wait_for_function("document.querySelector('#panel-title').textContent.startsWith('5: ')")
    assert page.errors == []


def test_a_text_search_highlights_its_hits_on_the_map(page, served):
    _open_map(page, served)
    page.fill("#query", "a breed of dog")
    page.press("#query", "Enter")
    page.wait_for_function("window.embcMap.highlighted().length > 0")
    hits = served.post("/v1/collections/wordnet/similar", json={"text": "a breed of dog", "limit": 20}).json()
    highlighted = page.evaluate("window.embcMap.highlighted()")
    assert len(highlighted) == len(hits) == 20
    drawn = {served.get(f"/v1/collections/wordnet/map/{i}").json()["id"] for i in highlighted}
    assert drawn == {h["id"] for h in hits}
    assert [li.get_attribute("data-id") for li in page.query_selector_all("#hits li")] == [h["id"] for h in hits]
    assert page.errors == []


def test_colour_by_label_and_switching_runs_change_the_colours(page, served):
    _open_map(page, served)
    by_cluster = _pixels(page)
    page.select_option("#colour-by", "label")
    page.wait_for_selector("#legend li[data-label]")
    labels = served.get("/v1/collections/wordnet/map/labels").json()
    assert [li.get_attribute("data-label") for li in page.query_selector_all("#legend li")] == labels["labels"]
    assert page.evaluate("[...Array(window.embcMap.n).keys()].map(window.embcMap.group)") == labels["codes"]
    assert _pixels(page) != by_cluster
    page.select_option("#colour-by", "cluster")
    # A second run with other clusters: the run selector switches between the two maps.
    job = served.post("/v1/collections/wordnet/recluster", json={"k": 4, "seed": 1}).json()["job_id"]
    while served.get(f"/v1/jobs/{job}").json()["state"] in ("queued", "running"):
        page.wait_for_timeout(300)
    first = page.evaluate("[...Array(window.embcMap.n).keys()].map(window.embcMap.cluster)")
    page.reload()
    page.wait_for_function("window.embcMap && window.embcMap.ready && window.embcMap.run > 1")
    latest = page.evaluate("[...Array(window.embcMap.n).keys()].map(window.embcMap.cluster)")
    assert len(set(first)) == 8 and len(set(latest)) == 4
    assert sum(_rgb(page.evaluate(f"window.embcMap.colourOf({c})")) in _pixels(page) for c in range(8)) == 4
    assert page.get_attribute("#runs tr.shown", "data-run") == str(page.evaluate("window.embcMap.run"))
    events = served.get("/v1/collections/wordnet/report").json()["events"]
    # 8 clusters became 4: deaths and merges. One line for all the births and one for all the deaths.
    assert {"death", "merge"} <= {e["kind"] for e in events}
    grouped = {kind: [str(e["cluster"]) for e in events if e["kind"] == kind] for kind in ("birth", "death")}
    assert [li.inner_text() for li in page.query_selector_all("#events li")] == [
        *(f"{kind}: cluster{'s' if len(ids) > 1 else ''} {', '.join(ids)}" for kind, ids in grouped.items() if ids),
        *(f"{e['kind']}: cluster {e['cluster']} ({', '.join(map(str, e['related']))})" for e in events
          if e["kind"] in ("split", "merge"))]
    page.select_option("#run", "1")
    page.wait_for_function("window.embcMap.run == 1")
    assert page.evaluate("[...Array(window.embcMap.n).keys()].map(window.embcMap.cluster)") == first
    latest_run = served.get("/v1/collections/wordnet/runs").json()[0]["run_id"]
    page.click(f"#runs tr[data-run='{latest_run}']")  # a row of the run history opens its run too
    page.wait_for_function(f"window.embcMap.run == {latest_run}")
    assert page.evaluate("[...Array(window.embcMap.n).keys()].map(window.embcMap.cluster)") == latest
    assert page.errors == []


def test_the_collections_page_links_each_map(page, served):
    page.goto(f"{served.base_url}/")
    page.wait_for_selector("#collections tbody tr[data-collection='wordnet'] img")
    # The thumbnail and the last run come by two requests: either may be first.
    page.wait_for_function("document.querySelector(\"tr[data-collection='wordnet'] td:last-child\").textContent")
    row = page.query_selector("tr[data-collection='wordnet']")
    cells = [cell.inner_text() for cell in row.query_selector_all("td")]
    run = next(r for r in served.get("/v1/collections/wordnet/runs").json() if r["status"] == "complete")
    assert cells[1:] == ["wordnet", "1,600", "minilm", "text",
                         f"{run['run_id']} ({run['mode']}, kmeans), {run['n_clusters']} clusters"]
    page.wait_for_function("document.querySelector(\"tr[data-collection='wordnet'] img\").naturalWidth == 96")
    page.click("text=wordnet")
    _wait_for_map(page)
    assert page.errors == []


def test_the_collections_page_shows_a_running_job_and_the_run_it_made(page, served):
    """A recluster another client started shows on its row with its step; once it ends, the row shows the run it
    made and its map's thumbnail."""
    rng = np.random.default_rng(3)
    records = [{"id": f"r{i}", "vector": rng.normal(size=64).tolist()} for i in range(3000)]
    assert served.post("/v1/collections/busy/items", json={"records": records}).json()["added"] == 3000
    job = served.post("/v1/collections/busy/recluster", json={"k": "auto", "seed": 0}).json()["job_id"]
    page.goto(f"{served.base_url}/")
    row = "tr[data-collection='busy']"
    page.wait_for_function(f"document.querySelector(\"{row} .job\")?.textContent.startsWith('job running')")
    # The job and the last run come by two requests: either may be first.
    page.wait_for_function(f"document.querySelector(\"{row} td:last-child span\")?.textContent")
    assert page.inner_text(f"{row} td:last-child span") == "not clustered yet"
    page.wait_for_selector(f"{row} img", timeout=300_000)
    run = served.get(f"/v1/jobs/{job}").json()["result"]
    made = f"{run['run_id']} (full, kmeans), {len(run['clusters'])} clusters"
    assert page.inner_text(f"{row} td:last-child span") == made
    page.wait_for_function(f"document.querySelector(\"{row} .job\").textContent === ''")
    assert page.errors == []
    assert served.delete("/v1/collections/busy").status_code == 204


def _job(page, served, path: str, body: dict) -> None:
    job = served.post(path, json=body).json()["job_id"]
    while served.get(f"/v1/jobs/{job}").json()["state"] in ("queued", "running"):
        page.wait_for_timeout(300)
    assert served.get(f"/v1/jobs/{job}").json()["state"] == "done"


def _fashion(page, served) -> list[Path]:
    """80 Fashion-MNIST images uploaded to the collection `fashion` and clustered (once a module)."""
    pictures = [p for folder in sorted(FASHION.iterdir()) for p in sorted(folder.glob("*.png"))[:8]]
    if served.get("/v1/collections/fashion").status_code == 404:
        added = served.post("/v1/collections/fashion/items", files=[
            ("files", (f"{p.parent.name}/{p.name}", p.read_bytes(), "image/png")) for p in pictures]).json()
        assert added["added"] == 80
        _job(page, served, "/v1/collections/fashion/recluster", {"k": 10})
    return pictures


def test_an_image_collection_shows_thumbnails_on_hover_and_in_its_lists(page, served):
    pictures = _fashion(page, served)
    _open_map(page, served, "fashion")
    x, y = page.evaluate("window.embcMap.screenOf(0)")
    page.mouse.move(x, y)
    page.wait_for_function("document.querySelector('#tooltip img')?.naturalWidth > 0")
    assert page.evaluate("document.querySelector('#tooltip img').naturalWidth") == 28  # Fashion-MNIST is 28 px
    page.click("#legend li >> nth=0")
    page.wait_for_function("[...document.querySelectorAll('#members img')].some((img) => img.naturalWidth > 0)")
    probe = pictures[3]  # a search by an uploaded image: that image is the nearest hit
    page.set_input_files("#image-query", str(probe))
    page.wait_for_function("window.embcMap.highlighted().length == 20")
    assert page.get_attribute("#hits li >> nth=0", "data-id") == served.get(
        f"/v1/collections/fashion/items/{probe.parent.name}%2F{probe.name}").json()["id"]
    page.select_option("#colour-by", "label")  # the folders the images were uploaded in are their labels
    page.wait_for_selector("#legend li[data-label='bag']")
    assert page.errors == []
    assert all(url.startswith((str(served.base_url), f"blob:{served.base_url}")) for url in page.requests)
    # Only an item of the collection has a picture, and only the one stored with it.
    assert served.get("/v1/collections/wordnet/items/dog.n.01/image").status_code in (404, 409)
    assert served.get("/v1/collections/fashion/items/..%2F..%2Fetc%2Fpasswd/image").status_code == 404


def test_a_cluster_panel_shows_its_decoded_centre_once_a_decoder_is_trained(page, served):
    from PIL import Image

    _fashion(page, served)
    _open_map(page, served, "fashion")
    page.click("#legend li >> nth=0")
    page.wait_for_selector("#members li")
    assert page.is_hidden("#panel-decoded")  # no decoder yet: nothing drawn, no error
    _job(page, served, "/v1/collections/fashion/decoder", {"size": 32, "epochs": 2})
    page.click("#legend li >> nth=1")
    page.wait_for_function("document.querySelector('#panel-decoded img').naturalWidth == 32")
    assert page.is_visible("#panel-decoded")
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#panel-decoded img").screenshot())).convert("L"))
    assert shot.std() > 10  # a drawing on the page, not an empty box
    assert page.errors == []


def test_a_table_rows_columns_show_on_hover_and_in_its_lists(page, served):
    """A row has no text or picture: the tooltip and the list showed its key alone."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    records = [{"id": f"iris-{i}", "label": str(iris.target_names[t]),
                **{name.split(" (")[0].replace(" ", "_"): float(v) for name, v in zip(iris.feature_names, row)}}
               for i, (row, t) in enumerate(zip(iris.data, iris.target))]
    assert served.post("/v1/collections/iris/items", json={"records": records, "model": "raw"}).json()["added"] == 150
    _job(page, served, "/v1/collections/iris/recluster", {"k": 3, "projection": "pca"})
    _open_map(page, served, "iris")
    x, y = page.evaluate("window.embcMap.screenOf(0)")
    page.mouse.move(x, y)
    page.wait_for_function("document.querySelector('#tooltip').dataset.index == '0' && "
                           "!document.querySelector('#tooltip').hidden")
    shown = served.get("/v1/collections/iris/map/0").json()
    cells = [cell.split("=") for cell in page.inner_text("#tooltip").splitlines()[-1].split()]
    assert {k: float(v) for k, v in cells} == shown["values"] and len(cells) == 4
    page.click("#legend li >> nth=0")
    page.wait_for_selector("#members li")
    assert "sepal_length=" in page.inner_text("#members li >> nth=0")
    assert page.errors == []


def test_the_pages_run_under_their_content_security_policy(browser, served):
    """Without the bypass: the collections page shows its thumbnails and the map draws, with no violation
    reported; a script put inline into the page does not run."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_init_script(f"sessionStorage.setItem('embc-key', '{KEY}')")
    opened, errors = context.new_page(), []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))

    def until(condition: str) -> None:
        deadline = time.monotonic() + 300
        while not opened.evaluate(f"() => Boolean({condition})"):
            assert time.monotonic() < deadline, condition
            opened.wait_for_timeout(200)

    opened.goto(f"{served.base_url}/")
    until("document.querySelector(\"tr[data-collection='wordnet'] img\")?.naturalWidth === 96")
    opened.goto(f"{served.base_url}/c/wordnet")
    until("window.embcMap && window.embcMap.ready")
    assert errors == []
    ran = opened.evaluate("""() => { const inline = document.createElement("script");
                                      inline.textContent = "window.inlineRan = true";
                                      document.body.append(inline);
                                      return window.inlineRan === true; }""")
    opened.wait_for_timeout(500)
    assert not ran and len(errors) == 1 and "Content Security Policy" in errors[0], errors
    context.close()


def test_a_page_without_the_key_asks_for_it(browser, served):
    context = browser.new_context(bypass_csp=True)
    opened = context.new_page()
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept(KEY)

    opened.on("dialog", answer)
    opened.goto(f"{served.base_url}/c/wordnet")
    opened.wait_for_function("window.embcMap && window.embcMap.ready", timeout=60_000)
    assert asked == ["This embc server wants its API key:"]
    assert httpx.get(f"{served.base_url}/c/wordnet").status_code == 200  # the page itself holds no data
    context.close()


def test_a_k_auto_run_shows_its_sweep_beside_the_map(page, served):
    from PIL import Image

    # Four tight blobs of 50 points: the knee of the inertia over k is 4, and only the k near it lie in its band.
    rng = np.random.default_rng(0)
    centres = np.eye(16)[:4] * 10
    records = [{"id": f"p{i}", "vector": (centres[i % 4] + rng.normal(size=16)).tolist()} for i in range(200)]
    assert served.post("/v1/collections/blobs/items", json={"records": records}).json()["added"] == 200
    _job(page, served, "/v1/collections/blobs/recluster", {"k": "auto"})
    sweep = served.get("/v1/collections/blobs/report").json()["sweep"]
    chosen = next(p["k"] for p in sweep if p["chosen"])
    near = [p["k"] for p in sweep if p["near_knee"]]
    assert chosen == 4
    _open_map(page, served, "blobs")
    assert page.is_visible("#sweep")
    band = f"; k = {min(near)}-{max(near)} lie near the knee (grey)" if len(near) > 1 else ""
    assert page.inner_text("#sweep figcaption") == (
        f"k = 4 (red): the knee of the inertia over k = {sweep[0]['k']}-{sweep[-1]['k']}{band}")
    assert page.evaluate("document.querySelectorAll('#sweep polyline')[0].points.length") == len(sweep)
    shot = Image.open(io.BytesIO(page.locator("#sweep svg").screenshot())).convert("RGB")
    colours = {colour for _, colour in shot.getcolors(maxcolors=1 << 16)}
    assert _rgb("#d62728") in colours and _rgb("#dddddd") in colours  # the chosen k, and the band near the knee
    assert page.errors == []
    _open_map(page, served, "wordnet")  # a run told its k has no sweep: nothing drawn
    assert page.is_hidden("#sweep")


def test_a_collection_is_reclustered_from_its_map(page, served):
    """The map of a collection with no run says so, without a failed request; its form starts a recluster job
    and draws the run it made, says why the server refused a k, and says when there is nothing new."""
    rng = np.random.default_rng(1)
    centres = np.eye(8)[:3] * 10
    records = [{"id": f"q{i}", "vector": (centres[i % 3] + rng.normal(size=8)).tolist()} for i in range(90)]
    assert served.post("/v1/collections/fresh/items", json={"records": records}).json()["added"] == 90
    page.goto(f"{served.base_url}/c/fresh")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('not clustered')")
    assert page.errors == []
    page.fill("#k", "two")
    page.click("#start")
    page.wait_for_function("document.querySelector('#job').textContent.startsWith('error')")
    assert page.inner_text("#job") == ("error: invalid request: k must be an integer >= 2, 'auto' (chosen from 2-22), "
                                       "or a range LO-HI to choose from, as '4-12' (2 <= LO, LO + 2 <= HI <= 100), "
                                       "not 'two'")
    page.fill("#k", "3")
    page.click("#start")
    _wait_for_map(page)
    page.wait_for_function("document.querySelector('#job').textContent.startsWith('run')")
    [run] = served.get("/v1/collections/fresh/runs").json()  # run ids count over every collection
    assert page.inner_text("#job") == f"run {run['run_id']} (full: first run), 3 clusters"
    assert page.inner_text("#status") == f"90 points · run {run['run_id']}"
    assert len(page.query_selector_all("#legend li")) == 3 == len(served.get("/v1/collections/fresh/clusters").json())
    assert page.get_attribute("#k", "placeholder") == "k (3)"  # each field's hint: what the last run used
    page.click("#start")
    page.wait_for_function("document.querySelector('#job').textContent.startsWith('nothing new')")
    assert page.inner_text("#job") == f"nothing new since run {run['run_id']}"
    assert page.is_hidden("#min-size")
    page.select_option("#algorithm", "hdbscan")  # a density algorithm is asked for its minimum size, not k
    assert page.is_hidden("#k") and page.is_visible("#min-size")
    page.fill("#min-size", "20")
    page.click("#start")
    page.wait_for_function(f"window.embcMap.run > {run['run_id']}")
    latest = served.get("/v1/collections/fresh/runs").json()[0]
    assert (latest["algorithm"], latest["params"]["min_size"]) == ("hdbscan", 20)
    assert page.get_attribute("#min-size", "placeholder") == "min size (20)"
    page.select_option("#algorithm", "")  # as the last run: hdbscan's, so still its minimum size
    assert page.is_hidden("#k") and page.is_visible("#min-size") and page.is_hidden("#eps")
    page.select_option("#algorithm", "dbscan")  # and its radius, chosen from the data unless given
    assert page.is_visible("#min-size") and page.is_visible("#eps") and page.is_hidden("#linkage")
    page.click("#start")
    page.wait_for_function(f"window.embcMap.run > {latest['run_id']}")
    latest = served.get("/v1/collections/fresh/runs").json()[0]
    assert latest["algorithm"] == "dbscan" and latest["params"].get("eps") is None
    hint = re.fullmatch(r"eps \((.+)\)", page.get_attribute("#eps", "placeholder"))
    assert hint and float(hint[1]) == pytest.approx(latest["params"]["eps_chosen"], rel=0.05)
    assert latest["params"]["min_size"] == 20 and page.get_attribute("#min-size", "placeholder") == "min size (20)"
    page.select_option("#algorithm", "agglomerative")  # k, and how far apart two clusters are
    assert page.is_visible("#k") and page.is_visible("#linkage") and page.is_hidden("#eps")
    page.select_option("#linkage", "average")
    page.click("#start")
    page.wait_for_function(f"window.embcMap.run > {latest['run_id']}")
    latest = served.get("/v1/collections/fresh/runs").json()[0]
    assert (latest["algorithm"], latest["params"]["k"], latest["params"]["linkage"]) == ("agglomerative", 3, "average")
    assert page.eval_on_selector("#linkage", "select => select.options[0].textContent") == "linkage (average)"
    assert [e for e in page.errors if "422" not in e] == []  # the refused k's answer, which the browser notes


def test_a_job_running_when_the_map_opens_is_followed_and_cancelled_from_it(page, served):
    """A recluster another client started shows its steps on the map opened meanwhile; the cancel button ends it
    at its next step: the page says so, the server records the run cut short as failed, and the collection is as
    it was."""
    rng = np.random.default_rng(2)
    records = [{"id": f"s{i}", "vector": rng.normal(size=64).tolist()} for i in range(4000)]
    assert served.post("/v1/collections/slow/items", json={"records": records}).json()["added"] == 4000
    # A sweep of 21 fits, then a map of 4,000 points: seconds, more than the page takes to open.
    job = served.post("/v1/collections/slow/recluster", json={"k": "auto"}).json()["job_id"]
    assert [j["id"] for j in served.get("/v1/jobs", params={"collection": "slow", "live": "true"}).json()] == [job]
    page.goto(f"{served.base_url}/c/slow")
    page.wait_for_function("document.querySelector('#job').textContent.startsWith('running')")
    assert page.inner_text("#status") == "not clustered yet: recluster it (beside the map)"
    assert page.is_disabled("#start")
    page.click("#cancel")
    page.wait_for_function("document.querySelector('#job').textContent.startsWith('cancelled')")
    assert page.inner_text("#job") == "cancelled: the clusters are as they were"
    [cut] = served.get("/v1/collections/slow/runs").json()  # the run the job had started, cut short
    assert (cut["status"], cut["error"]) == ("failed", "cancelled by a client")
    row = page.locator(f"#runs tr[data-run='{cut['run_id']}']")
    assert row.get_attribute("title") == "cancelled by a client" and "(failed)" in row.inner_text()
    assert page.is_hidden("#cancel") and page.is_enabled("#start")
    assert served.get("/v1/jobs", params={"collection": "slow", "live": "true"}).json() == []
    [ended] = served.get("/v1/jobs", params={"collection": "slow", "live": "false"}).json()
    assert (ended["id"], ended["state"], ended["error"]) == (job, "cancelled", "cancelled by a client")
    assert served.get("/v1/collections/slow/clusters").status_code == 409  # still not clustered
    assert page.errors == []
    assert served.delete("/v1/collections/slow").status_code == 204


def test_the_api_docs_draw_every_route_from_the_servers_own_files(page, served):
    """/docs (Swagger UI) and /redoc list the API's routes with no file from elsewhere: a machine without the
    internet showed blank pages when they came from a CDN."""
    page.goto(f"{served.base_url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=60_000)
    paths = {text.replace("\u200b", "") for text in page.locator(".opblock-summary-path").all_inner_texts()}
    assert {"/v1/collections", "/v1/collections/{collection}/similar", "/v1/jobs/{job_id}"} <= paths, paths
    page.goto(f"{served.base_url}/redoc")
    page.wait_for_selector("h2", timeout=60_000)
    assert "Similar" in page.locator("h2").all_inner_texts()
    # Only ReDoc's "API docs by Redocly" badge comes from elsewhere, and the page stands without it.
    elsewhere = {url for url in page.requests if not url.startswith((str(served.base_url), "blob:"))}
    assert elsewhere <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, elsewhere
