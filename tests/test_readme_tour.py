"""The README's tour and its Python API example, run as written, in order: each command exits 0, prints no
traceback, and prints the lines the README shows under it."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from helpers import ROOT, run_embc

TOUR = re.compile(r"<!-- tour -->\n```console\n(.*?)```", re.S)
PYTHON_API = re.compile(r"## Python API\n.*?```python\n(.*?)```", re.S)
# The command line's table: a command (its cell may hold escaped pipes) and the JSON shape it prints.
SHAPES = re.compile(r"^\| `(\w+)(?:\\\||[^|])*\| `([\[{][^`]*)`", re.M)


def _tour() -> list[tuple[str, list[str]]]:
    """(command, the lines shown under it) for each `$ ` line of the tour, comments cut."""
    steps: list[tuple[str, list[str]]] = []
    for line in TOUR.search((ROOT / "README.md").read_text()).group(1).splitlines():
        if line.startswith("$ "):
            steps.append((re.sub(r"\s{2,}#.*$", "", line[2:]).strip(), []))
        elif line.strip():
            steps[-1][1].append(line)
    return steps


def _plain(text: str) -> str:
    return " ".join(text.split())


def _files(here: Path) -> None:
    """What the tour names besides the shipped samples: wine.csv, notes/ and photo.jpg."""
    from PIL import Image
    from sklearn.datasets import load_wine

    for name in ("examples", "images"):
        (here / name).symlink_to(ROOT / name)
    wine = load_wine()
    with open(here / "wine.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*wine.feature_names, "label"])
        writer.writerows([*row, wine.target_names[t]] for row, t in zip(wine.data.tolist(), wine.target))
    (here / "notes").mkdir()
    texts = [line for line in (ROOT / "examples" / "wordnet-nouns-8.jsonl").read_text().splitlines()][::8]
    for n, line in enumerate(texts):
        (here / "notes" / f"{n}.txt").write_text(line.split('"text": "', 1)[1].split('"', 1)[0])
    boot = sorted((ROOT / "images" / "samples" / "fashion-mnist-600" / "ankle-boot").glob("*.png"))[0]
    Image.open(boot).convert("RGB").save(here / "photo.jpg")


def test_the_readme_tour_runs_in_order_and_prints_what_it_shows(tmp_path):
    here = tmp_path / "tour"
    here.mkdir()
    _files(here)
    env = {**os.environ, "EMBC_HOME": str(tmp_path / "data"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100"}
    steps = _tour()
    assert len(steps) >= 30 and shutil.which("embc", path=env["PATH"])
    for command, shown in steps:
        result = subprocess.run(["bash", "-c", command], cwd=here, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert "Traceback" not in result.stderr, f"{command}\n{result.stderr}"
        for line in shown:
            assert _plain(line) in _plain(result.stdout), f"{command}: no {line!r} in\n{result.stdout}"


def test_the_readme_python_example_runs_as_written(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    example = PYTHON_API.search((ROOT / "README.md").read_text()).group(1)
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    printed = [line.split(" ", 2) for line in result.stdout.splitlines()]
    assert [int(i) for i, _, _ in printed] == list(range(8)) and sum(int(n) for _, n, _ in printed) == 1600
    with open(tmp_path / "wordnet.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 1600
    assert (tmp_path / "elbow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _keys(shape: str) -> list[str]:
    """The keys a JSON shape in the README names for its outermost object: `[{"a", "b": [{"c"}]}]` gives a, b."""
    depth, outer, keys = 0, None, []
    for token in re.finditer(r'[\[{]|[\]}]|"(\w+)"', shape):
        if token.group(1) is None:
            depth += 1 if token.group() in "[{" else -1
            outer = depth if outer is None and token.group() == "{" else outer
        elif depth == outer:
            keys.append(token.group(1))
    return keys


def test_the_readme_json_shapes_are_what_the_commands_print(clustered_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(clustered_home, home)
    (tmp_path / "notes.txt").write_text("a bowl of soup")
    commands = {"collections": ["collections"], "clusters": ["clusters", "-c", "wordnet"],
                "cluster": ["cluster", "3", "-c", "wordnet"],
                "similar": ["similar", "--text", "a dog", "-c", "wordnet"], "report": ["report", "-c", "wordnet"],
                "ingest": ["ingest", str(tmp_path / "notes.txt"), "-c", "notes"],
                "recluster": ["recluster", "-c", "wordnet", "--k", "9"]}
    shapes = dict(SHAPES.findall((ROOT / "README.md").read_text()))
    assert set(shapes) == set(commands)
    for command, shape in shapes.items():
        result = run_embc(*commands[command], "--json", home=home)
        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        assert list(printed[0] if isinstance(printed, list) else printed) == _keys(shape), command


def _curl_lines() -> list[list[str]]:
    """The README's curl commands as argument lists: continued lines joined, comments cut."""
    block = re.search(r"```sh\n(curl localhost:8000/healthz.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    joined = re.sub(r"\\\n\s*", "", re.sub(r"[ \t]+#[^\n]*", "", block))
    lines = [shlex.split(line) for line in joined.splitlines() if line.strip()]
    assert len(lines) == len(re.findall(r"^curl ", block, re.M)) and {args[0] for args in lines} == {"curl"}
    return lines


def _request(args: list[str]) -> tuple[str, str, dict, set[str]]:
    """(method, path, query, body field names) of one curl command."""
    url = next(a for a in args if a.startswith("localhost:8000/"))
    method = next((a[2:] for a in args if a.startswith("-X")), "GET")
    fields: set[str] = set()
    for flag, value in zip(args, args[1:]):
        if flag == "-d":
            fields |= set(json.loads(value))
        elif flag == "-F":
            fields.add(value.split("=", 1)[0])
    parts = urlsplit("http://" + url)
    return method.lower(), parts.path, dict(parse_qsl(parts.query)), fields


def _properties(spec: dict, operation: dict) -> set[str]:
    """The fields an operation's request body takes, JSON or multipart."""
    names: set[str] = set()
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        names |= set(schema.get("properties", {}))
    return names


def test_the_readme_curl_lines_are_requests_the_service_takes(tmp_path):
    """Each curl line's method and path are a route of the service, its query parameters and body fields are
    that route's: the README's HTTP examples cannot drift from the API."""
    from embc import Workspace
    from embc.service.app import make_app

    with Workspace(tmp_path) as ws:
        spec = make_app(ws).openapi()
    for args in _curl_lines():
        method, path, query, fields = _request(args)
        routes = [p for p in spec["paths"] if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", p), path)]
        assert routes, path
        operation = spec["paths"][routes[0]].get(method)
        assert operation is not None, (method, path)
        assert set(query) <= {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}, path
        assert fields <= _properties(spec, operation), (path, fields)
