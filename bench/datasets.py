"""Labelled evaluation sets beyond the shipped samples, made from data that installs offline: `python
bench/datasets.py [FOLDER]` (default bench/data, which git ignores). Text sets are JSONL (id, text, label);
image sets are folders of PNGs, one folder per label. Every set has uneven class sizes, fixed by seed 0.

- wordnet-nouns-10: 1,130 items, 10 classes. Noun glosses from Debian `wordnet-base`, from 10 lexicographer
  files that the shipped sample lacks (WordNet 3.0 licence).
- wordnet-verbs-12: 1,220 items, 12 classes. Verb glosses from Debian `wordnet-base`, by lexicographer file
  (WordNet 3.0 licence).
- fortunes-8: 1,564 items, 8 classes. Quotations from Debian `fortunes`, by fortune file (BSD, see its
  copyright file).
- digits-10: 1,170 items, 10 classes. scikit-learn's bundled `load_digits` (UCI, CC BY 4.0), upscaled to
  32x32.
- fashion-train-10: 1,800 items, 10 classes. The training images of Debian `dataset-fashion-mnist`
  (MIT/Expat).
- tuxpaint-8: 600 items, 8 classes. Stamp images from Debian `tuxpaint-stamps-default`, by category (GPL-2).
- fortunes-5: 850 items, 5 classes. Quotations from five other fortune files than fortunes-8's.
- wordnet-nouns-20: 1,620 items, 20 classes. Noun glosses from 20 lexicographer files (WordNet 3.0 licence).
- fashion-test-5: 720 items, 5 classes. The test images of Debian `dataset-fashion-mnist`, five of the classes.
- digits-fashion-20: 1,590 items, 20 classes: digits-10's images and Fashion-MNIST's test images together.
- emoji-names-8: 1,601 items, 8 classes (85-363). The names of the fully-qualified emoji in Unicode's
  `emoji-test.txt` (Debian `unicode-data`; Unicode licence), skin-tone variants left out, by group (Flags and
  Component left out). Made after the defaults were chosen, to check them on a source they were not tuned on.
- emoji-images-8: the same emoji, drawn 72x72 on white from Debian `fonts-noto-color-emoji` (SIL OFL 1.1).
- debian-synopses-12: 1,445 items, 12 classes (40-260). The one-line synopses of the packages in Debian's
  package index (`apt-cache dumpavail`; the main archive, free licences), by section, each synopsis once, those
  whose SHA-256 digests come first (not at random: the index moves with the archive's updates, and a machine
  whose index differs by a few packages then draws a set that differs by as few). Made after every default was
  chosen, as the emoji sets were; drawn at random from the section until 2026-12-05.
- openclipart-9: 1,315 items, 9 classes (60-260). Clip art from Debian `openclipart-png` (public domain), by
  top-level category, on white. Made with debian-synopses-12.
- openclipart-sub-13: 307 items, 13 classes (8-40). Clip art from 13 of `openclipart-png`'s subcategories
  (mammals, birds, bugs, fruit, desserts, beverages, clothing, vehicles, road signs, music, sports, computer
  hardware, party), about two dozen a class as in the issue's photo set (307 photos, 13 classes). Made after
  every default was chosen.
- bible-verses-6: 1,200 items, 6 classes (110-320). Verses of the King James Bible (public domain) from Debian
  `bible-kjv-text`, read with `bible-kjv`'s `bible`, by book (Genesis, Leviticus, Psalms, Proverbs, Matthew,
  Revelation): six classes, as the issue's text sets B and C have. Made after every default was chosen.
- oxygen-icons-6: 506 items, 6 classes (45-160). KDE's Oxygen icons at 64x64 from Debian `oxygen-icon-theme`
  (LGPL-3+), by context (mimetypes, apps, actions, places, devices, status), on white. Made with bible-verses-6.
- gcompris-photos-6: 211 items, 6 classes (12-68). Photographs, the only set of them here: those of the GCompris
  activities in Debian `gcompris-qt-data` (from Wikimedia Commons; public domain, CC0, CC BY or CC BY-SA, each
  file's in its folder's README): monuments, tools, mammals, renewable energy (dams, wind and solar power), fish
  and birds, as the activities group them (the animals split into mammals and birds; a subject in two
  activities once). Made after every default was chosen, and measured once before any change.
- foldoc-6: 831 items, 6 classes (56-260), as many as the issue's text set C. Entries of the Free On-line
  Dictionary of Computing (Debian `dict-foldoc`; GFDL 1.1 or later) by their one subject tag (language,
  programming, networking, operating system, hardware, company): the headword and the definition's first
  paragraph, of 40-600 characters. Made after every default was chosen, and measured once before any change.
- manpages-5: 593 items, 5 classes (29-240). The one-line NAME of each page of the Linux man-pages project (Debian
  `manpages` and `manpages-dev`; the pages' own free licences, in the packages' copyright files) by section:
  library functions, system calls, overviews, file formats, devices. Made after `--k auto`'s range was chosen,
  and measured once before any change.

Larger sets (LARGE, `python bench/quality.py --large`), beyond the 10,000-point sample that the density fits
fit; the density fits' neighbours on large samples were chosen on them (docs/quality.md):

- wordnet-nouns-12-21k: 21,650 items, 12 classes (350-4,000). Noun glosses from 12 lexicographer files.
- wordnet-verbs-13-13k: 12,930 items, 13 classes (243-2,383). Every verb gloss, by lexicographer file.
- debian-synopses-16-12k: about 11,600 items, 16 classes (135-2,008). Every synopsis of 16 sections of Debian's
  package index, each once.
- fortunes-11-5k: 5,315 items, 11 classes (223-870). Every quotation of 30-600 characters in 11 fortune files.
- fashion-train-10-13k: 12,700 items, 10 classes (400-2,000). Fashion-MNIST's training images.

The Debian packages (`make bench` installs those missing): `apt-get install -y wordnet-base fortunes
dataset-fashion-mnist tuxpaint-stamps-default unicode-data fonts-noto-color-emoji openclipart-png bible-kjv
oxygen-icon-theme gcompris-qt-data dict-foldoc manpages manpages-dev`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

WORDNET = Path("/usr/share/wordnet")
FORTUNES = Path("/usr/share/games/fortunes")
FASHION = Path("/usr/share/datasets/fashion-mnist")
STAMPS = Path("/usr/share/tuxpaint/stamps")
EMOJI = Path("/usr/share/unicode/emoji/emoji-test.txt")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
CLIPART = Path("/usr/share/openclipart/png")
OXYGEN = Path("/usr/share/icons/oxygen/base/64x64")
FOLDOC = Path("/usr/share/dictd/foldoc.dict.dz")
SYNOPSIS_SECTIONS = ["games", "science", "sound", "graphics", "fonts", "mail", "database", "electronics", "video",
                     "editors", "hamradio", "math", "net", "admin", "text", "web"]
FOLDOC_SUBJECTS = ("language", "networking", "programming", "operating system", "company", "hardware")
MAN_SECTIONS = {"2": "system calls", "3": "library functions", "4": "devices", "5": "file formats", "7": "overviews"}
GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")
SKIN_TONES = range(0x1F3FB, 0x1F400)
LEXNAMES = {3: "tops", 4: "act", 5: "animal", 6: "artifact", 7: "attribute", 8: "body", 9: "cognition",
            10: "communication", 11: "event", 12: "feeling", 13: "food", 14: "group", 15: "location", 16: "motive",
            17: "object", 18: "person", 19: "phenomenon", 20: "plant", 21: "possession", 22: "process",
            23: "quantity", 24: "relation", 25: "shape", 26: "state", 27: "substance", 28: "time",
            29: "body", 30: "change", 31: "cognition", 32: "communication", 33: "competition", 34: "consumption",
            35: "contact", 36: "creation", 37: "emotion", 38: "motion", 39: "perception", 40: "possession",
            41: "social"}
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle-boot"]


def _uneven(groups: dict[str, list], sizes: list[int], rng: np.random.Generator | None) -> dict[str, list]:
    """Each group cut to its size (the largest group the largest size), drawn at random; without `rng`, the texts
    whose digests come first, so that a source that differs by a few items between machines gives a set that
    differs by as few."""
    def drawn(items: list, size: int) -> list:
        if rng is None:
            return sorted(items, key=lambda text: hashlib.sha256(text.encode()).digest())[:size]
        return [items[i] for i in sorted(rng.choice(len(items), min(size, len(items)), replace=False))]

    order = sorted(groups, key=lambda g: -len(groups[g]))
    return {g: drawn(groups[g], size) for g, size in zip(order, sizes)}


def _glosses(part: str, files: list[int]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (WORDNET / f"data.{part}").read_text(errors="replace").splitlines():
        if line.startswith("  ") or "|" not in line:
            continue
        fields = line.split()
        lexfile = int(fields[1])
        if lexfile in files:
            words = fields[4].replace("_", " ")
            out.setdefault(f"{part}.{LEXNAMES[lexfile]}", []).append(f"{words}: {line.split('| ', 1)[1].strip()}")
    return out


def _write_jsonl(path: Path, groups: dict[str, list[str]]) -> int:
    rows = [{"id": f"{label}-{n}", "text": text, "label": label} for label, texts in groups.items()
            for n, text in enumerate(texts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def _fortunes(names: list[str]) -> dict[str, list[str]]:
    out = {}
    for name in names:
        quotes = [" ".join(q.split()) for q in (FORTUNES / name).read_text(errors="replace").split("\n%\n")]
        out[name] = [q for q in quotes if 30 <= len(q) <= 600]
    return out


def _write_images(folder: Path, groups: dict[str, list[np.ndarray]]) -> int:
    from PIL import Image

    for label, images in groups.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for n, pixels in enumerate(images):
            Image.fromarray(pixels).save(folder / label / f"{n:04d}.png")
    return sum(len(v) for v in groups.values())


def _idx(name: str) -> np.ndarray:
    with gzip.open(FASHION / name) as handle:
        data = handle.read()
    return np.frombuffer(data, np.uint8, offset=16 if "images" in name else 8)


def _wordnet_nouns(out: Path, rng: np.random.Generator) -> int:
    nouns = _glosses("noun", [4, 7, 9, 10, 11, 14, 18, 19, 21, 27])
    return _write_jsonl(out, _uneven(nouns, [300, 200, 150, 120, 100, 80, 60, 50, 40, 30], rng))


def _wordnet_verbs(out: Path, rng: np.random.Generator) -> int:
    verbs = _glosses("verb", list(range(29, 42)))
    return _write_jsonl(out, _uneven(verbs, [250, 200, 160, 130, 110, 90, 75, 60, 50, 40, 30, 25], rng))


def _fortune_files(out: Path, rng: np.random.Generator) -> int:
    quotes = _fortunes(["computers", "food", "law", "love", "medicine", "politics", "science", "sports"])
    return _write_jsonl(out, _uneven(quotes, [400, 300, 250, 200, 150, 120, 100, 80], rng))


def _fortune_files_5(out: Path, rng: np.random.Generator) -> int:
    quotes = _fortunes(["startrek", "linux", "drugs", "education", "ethnic"])
    return _write_jsonl(out, _uneven(quotes, [300, 200, 160, 110, 80], rng))


def _wordnet_nouns_20(out: Path, rng: np.random.Generator) -> int:
    nouns = _glosses("noun", [4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 17, 18, 19, 20, 21, 23, 26, 27, 28])
    return _write_jsonl(out, _uneven(nouns, [150, 140, 130, 120, 110, 100, 95, 90, 85, 80, 75, 70, 65, 60, 55, 50,
                                             45, 40, 30, 30], rng))


def _wordnet_nouns_large(out: Path, rng: np.random.Generator) -> int:
    nouns = _glosses("noun", [4, 5, 6, 8, 10, 12, 13, 15, 18, 20, 27, 28])
    return _write_jsonl(out, _uneven(nouns, [4000, 3500, 3000, 2500, 2000, 1700, 1400, 1100, 900, 700, 500, 350],
                                     rng))


def _wordnet_verbs_large(out: Path, rng: np.random.Generator) -> int:
    return _write_jsonl(out, _glosses("verb", list(range(29, 42))))


def _fortune_files_large(out: Path, rng: np.random.Generator) -> int:
    return _write_jsonl(out, _fortunes(["computers", "politics", "songs-poems", "work", "science", "men-women", "art",
                                        "linux", "perl", "literature", "startrek"]))


def _fashion_train_large(out: Path, rng: np.random.Generator) -> int:
    return _write_images(out, _uneven(_fashion("train"), [2000, 1900, 1800, 1600, 1400, 1200, 1000, 800, 600, 400],
                                      rng))


def _digits(out: Path, rng: np.random.Generator) -> int:
    return _write_images(out, _uneven(_digit_groups(), [180, 170, 160, 150, 130, 110, 90, 75, 60, 45], rng))


def _digit_groups() -> dict[str, list[np.ndarray]]:
    """scikit-learn's digits by digit, upscaled to 32x32."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pictures = (digits.images * 255 / 16).astype(np.uint8).repeat(4, 1).repeat(4, 2)
    return {str(d): [pictures[i] for i in np.flatnonzero(digits.target == d)] for d in range(10)}


def _fashion_train(out: Path, rng: np.random.Generator) -> int:
    return _write_images(out, _uneven(_fashion("train"), [300, 260, 230, 200, 180, 160, 140, 120, 110, 100], rng))


def _fashion_test_5(out: Path, rng: np.random.Generator) -> int:
    test = _fashion("t10k")
    groups = {c: test[c] for c in ("trouser", "pullover", "sandal", "shirt", "bag")}
    return _write_images(out, _uneven(groups, [250, 190, 140, 90, 50], rng))


def _digits_fashion_20(out: Path, rng: np.random.Generator) -> int:
    groups = {**{f"digit-{d}": images for d, images in _digit_groups().items()}, **_fashion("t10k")}
    return _write_images(out, _uneven(groups, [140, 130, 120, 115, 110, 100, 95, 90, 85, 80, 75, 70, 65, 60, 55,
                                               50, 45, 40, 35, 30], rng))


def _fashion(split: str) -> dict[str, list[np.ndarray]]:
    """Fashion-MNIST's images of a split (train, t10k) by class, at most 2,000 each."""
    images = _idx(f"{split}-images-idx3-ubyte.gz").reshape(-1, 28, 28)
    labels = _idx(f"{split}-labels-idx1-ubyte.gz")
    return {FASHION_CLASSES[c]: [images[i] for i in np.flatnonzero(labels == c)[:2000]] for c in range(10)}


def _stamps(out: Path, rng: np.random.Generator) -> int:
    from PIL import Image

    groups = {}
    for category in sorted(p for p in STAMPS.iterdir() if p.is_dir()):
        files = sorted(category.rglob("*.png"))
        if len(files) >= 30:
            groups[category.name] = [np.asarray(_on_white(Image.open(f))) for f in files]
    return _write_images(out, _uneven(groups, [160, 120, 80, 70, 65, 40, 38, 34], rng))


def _emoji() -> dict[str, list[tuple[str, str]]]:
    """Each fully-qualified emoji of `emoji-test.txt` without a skin tone, as (characters, name), by group."""
    groups: dict[str, list[tuple[str, str]]] = {}
    group = ""
    for line in EMOJI.read_text().splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line and group not in ("Flags", "Component"):
            points = [int(p, 16) for p in line.split(";")[0].split()]
            if not any(p in SKIN_TONES for p in points):
                name = line.split("#", 1)[1].split(None, 2)[2]  # after the characters and the version (E1.0)
                groups.setdefault(group, []).append(("".join(map(chr, points)), name))
    return groups


def _emoji_names(out: Path, rng: np.random.Generator) -> int:
    return _write_jsonl(out, {g: [name for _, name in emoji] for g, emoji in _emoji().items()})


def _emoji_images(out: Path, rng: np.random.Generator) -> int:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(EMOJI_FONT), 109)  # the one size of its bitmaps

    def drawn(characters: str) -> np.ndarray:
        canvas = Image.new("RGB", (136, 128), "white")
        ImageDraw.Draw(canvas).text((0, 0), characters, font=font, embedded_color=True)
        return np.asarray(canvas.resize((72, 72), Image.LANCZOS))

    return _write_images(out, {g.replace(" & ", "-").lower(): [drawn(c) for c, _ in emoji]
                               for g, emoji in _emoji().items()})


def _synopses(out: Path, rng: np.random.Generator) -> int:
    """The index differs between machines with the archive's updates (`apt-get update`), so its synopses are
    drawn by digest, not at random."""
    groups = _synopsis_groups(SYNOPSIS_SECTIONS[:12])
    return _write_jsonl(out, _uneven(groups, [260, 220, 180, 150, 130, 110, 95, 80, 70, 60, 50, 40], None))


def _synopses_large(out: Path, rng: np.random.Generator) -> int:
    return _write_jsonl(out, _synopsis_groups(SYNOPSIS_SECTIONS))


def _synopsis_groups(sections: list[str]) -> dict[str, list[str]]:
    """The synopses of the packages in Debian's index by section, each once."""
    index = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    groups: dict[str, list[str]] = {s: [] for s in sections}
    seen = set()
    for stanza in index.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        synopsis = fields.get("Description", "")
        if fields.get("Section") in groups and synopsis.lower() not in seen:
            seen.add(synopsis.lower())
            groups[fields["Section"]].append(synopsis)
    return groups


def _bible(out: Path, rng: np.random.Generator) -> int:
    books = {}
    for book in ("Genesis", "Leviticus", "Psalms", "Proverbs", "Matthew", "Revelation"):
        # A range past the book's end stops at its end; the book is printed by chapter, a verse a line ("  3 ...").
        text = subprocess.run(["bible", "-l100000", f"{book}1:1-200:200"], capture_output=True, text=True,
                              check=True).stdout
        books[book.lower()] = [line.split(None, 1)[1] for line in text.splitlines() if line[:4].strip().isdigit()]
    return _write_jsonl(out, _uneven(books, [320, 260, 200, 170, 140, 110], rng))


def _foldoc(out: Path, rng: np.random.Generator) -> int:
    """Entries of the Free On-line Dictionary of Computing by their one subject tag ("<networking>"): the
    headword and the definition's first paragraph, cross-reference braces dropped."""
    groups: dict[str, list[str]] = {s: [] for s in FOLDOC_SUBJECTS}
    for entry in re.split(r"\n(?=\S)", gzip.open(FOLDOC, "rt", errors="replace").read()):
        head, _, body = entry.partition("\n")
        first = " ".join(body.split("\n\n", 1)[0].split())
        tagged = re.fullmatch(r"<([^>]+)> (.*)", first)
        if tagged and tagged[1] in groups and 40 <= len(tagged[2]) <= 600:
            groups[tagged[1]].append(f"{head.strip()}: {re.sub('[{}]', '', tagged[2])}")
    return _write_jsonl(out, _uneven(groups, [260, 190, 150, 100, 75, 56], rng))


def _manpages(out: Path, rng: np.random.Generator) -> int:
    """The NAME line of each page of the Linux man-pages project (Debian `manpages`, `manpages-dev`) by section,
    its troff markup dropped; a page that only includes another (".so"), and a line seen before, left out."""
    files = subprocess.run(["dpkg", "-L", "manpages", "manpages-dev"], capture_output=True, text=True,
                           check=True).stdout.split()
    pages = [(found[1], path) for path in sorted(files)
             if (found := re.fullmatch(r"/usr/share/man/man(\d)/[^/]+\.gz", path)) and found[1] in MAN_SECTIONS]
    if not all(Path(path).exists() for _, path in pages):
        sys.exit("manpages-5: the packages' man pages are not on disk (a dpkg path-exclude for /usr/share/man?)")
    groups: dict[str, list[str]] = {name: [] for name in MAN_SECTIONS.values()}
    seen = set()
    for section, path in pages:
        page = gzip.open(path, "rt", errors="replace").read()
        name = re.search(r"^\.SH NAME\n(.*?)^\.S[HS] ", page, re.S | re.M)
        if page.startswith(".so") or not name:
            continue
        line = " ".join(row for row in name[1].splitlines() if not row.startswith(('.\\"', "'\\\"")))
        line = re.sub(r"\\-|\\\(em|\\\(en", "-", re.sub(r"\\f[BIRP]|\\f\[[A-Z]*\]|\\&|\\%", "", line))
        line = " ".join(re.sub(r"(^| )\.[A-Z]+ ", " ", line).replace("\\", "").split())
        if len(line) >= 15 and line.lower() not in seen:
            seen.add(line.lower())
            groups[MAN_SECTIONS[section]].append(line)
    return _write_jsonl(out, _uneven(groups, [240, 180, 110, 34, 29], rng))


def _icons(out: Path, rng: np.random.Generator) -> int:
    from PIL import Image

    contexts = ("mimetypes", "apps", "actions", "places", "devices", "status")
    # Many names are links to one picture: each picture once.
    groups = {c: sorted(f for f in (OXYGEN / c).glob("*.png") if not f.is_symlink()) for c in contexts}
    return _write_images(out, {c: [np.asarray(_on_white(Image.open(f))) for f in files]
                               for c, files in _uneven(groups, [160, 120, 80, 54, 47, 45], rng).items()})


def _clipart(out: Path, rng: np.random.Generator) -> int:
    return _clipart_folders(out, ["animals", "buildings", "food", "geography", "office", "people", "plants", "tools",
                                  "transportation"], [260, 220, 180, 160, 140, 120, 100, 75, 60], rng)


def _clipart_subcategories(out: Path, rng: np.random.Generator) -> int:
    folders = ["animals/mammals", "animals/birds", "animals/bugs", "food/fruit", "food/desserts", "food/beverages",
               "people/clothing", "transportation/vehicles", "transportation/roadsigns", "recreation/music",
               "recreation/sports", "computer/hardware", "recreation/party"]
    return _clipart_folders(out, folders, [40, 36, 32, 30, 28, 26, 24, 22, 20, 17, 14, 10, 8], rng)


def _clipart_folders(out: Path, folders: list[str], sizes: list[int], rng: np.random.Generator) -> int:
    """Openclipart's pictures in each of `folders`, labelled by the folder's own name, cut to `sizes`."""
    from PIL import Image

    groups = {Path(f).name: sorted((CLIPART / f).rglob("*.png")) for f in folders}
    return _write_images(out, {c: [np.asarray(_on_white(Image.open(f))) for f in files]
                               for c, files in _uneven(groups, sizes, rng).items()})


# GCompris's photographs: (resource file, folder in it) by class. The animal activities mix classes: BIRDS go
# to birds, the few reptiles, insects and crabs (LEFT_OUT) nowhere, the rest to mammals.
PHOTO_FOLDERS = {"monuments": [("explore_monuments", "explore_monuments/resource"),
                               ("categorization", "categorization/resource/images/monuments")],
                 "tools": [("categorization", "categorization/resource/images/tools")],
                 "energy": [("categorization", "categorization/resource/images/renewable")],
                 "fish": [("categorization", "categorization/resource/images/fishes")],
                 "animals": [("erase", "erase/resource"), ("explore_world_animals", "explore_world_animals/resource"),
                             ("explore_farm_animals", "explore_farm_animals/resource")]}
BIRDS = {"gosling", "heron", "kingfisher", "northern_harrier", "penguin", "spoonbills", "swans", "toucan",
         "scarlet_macaw", "chicken", "duck", "owl"}
LEFT_OUT = {"bee", "butterfly", "caterpillar", "crab", "chamaeleon", "chameleon", "crocodile", "dragon"}


def _photos(out: Path, rng: np.random.Generator) -> int:
    """Every photograph of PHOTO_FOLDERS (no draw: its classes come as uneven as the others are cut)."""
    import io

    from PIL import Image

    from qt_resources import read_rcc

    names = {resource for places in PHOTO_FOLDERS.values() for resource, _ in places}
    resources = {name: read_rcc(GCOMPRIS / f"{name}.rcc") for name in names}  # each file read once
    groups: dict[str, list[np.ndarray]] = {}
    seen: set[str] = set()  # a subject of two activities (a monument, a giraffe), once
    for group, places in PHOTO_FOLDERS.items():
        for resource, folder in places:
            files = resources[resource]
            for path in sorted(p for p in files if p.startswith(f"gcompris/src/activities/{folder}/")
                               and p.endswith(".webp")):
                stem = Path(path).stem
                if stem.lower() in seen or stem in LEFT_OUT:
                    continue
                seen.add(stem.lower())
                label = group if group != "animals" else "birds" if stem in BIRDS else "mammals"
                groups.setdefault(label, []).append(np.asarray(_on_white(Image.open(io.BytesIO(files[path])))))
    return _write_images(out, groups)


# Each set's file or folder name, and its maker.
SETS = {"wordnet-nouns-10.jsonl": _wordnet_nouns, "wordnet-verbs-12.jsonl": _wordnet_verbs,
        "fortunes-8.jsonl": _fortune_files, "digits-10": _digits, "fashion-train-10": _fashion_train,
        "tuxpaint-8": _stamps, "fortunes-5.jsonl": _fortune_files_5, "wordnet-nouns-20.jsonl": _wordnet_nouns_20,
        "fashion-test-5": _fashion_test_5, "digits-fashion-20": _digits_fashion_20,
        "emoji-names-8.jsonl": _emoji_names, "emoji-images-8": _emoji_images,
        "debian-synopses-12.jsonl": _synopses, "openclipart-9": _clipart,
        "openclipart-sub-13": _clipart_subcategories, "bible-verses-6.jsonl": _bible,
        "oxygen-icons-6": _icons, "gcompris-photos-6": _photos, "foldoc-6.jsonl": _foldoc,
        "manpages-5.jsonl": _manpages}
# Beyond the sample of 10,000 points that the density fits and agglomerative clustering fit (or near it).
LARGE = {"wordnet-nouns-12-21k.jsonl": _wordnet_nouns_large, "wordnet-verbs-13-13k.jsonl": _wordnet_verbs_large,
         "debian-synopses-16-12k.jsonl": _synopses_large, "fortunes-11-5k.jsonl": _fortune_files_large,
         "fashion-train-10-13k": _fashion_train_large}


def make(out: Path, names: list[str] | None = None) -> dict[str, int]:
    """The sets named (file or folder names, as in SETS or LARGE; SETS by default) in `out`, each drawn with seed
    0, and how many items each holds."""
    out.mkdir(parents=True, exist_ok=True)
    return {name: (SETS | LARGE)[name](out / name, np.random.default_rng(0)) for name in names or SETS}


def _on_white(image):
    from PIL import Image

    image = image.convert("RGBA")
    image.thumbnail((224, 224))
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    background.alpha_composite(image)
    return background.convert("RGB")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data"
    for name, count in make(folder).items():
        print(f"{name}: {count} items", file=sys.stderr)
