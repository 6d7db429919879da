SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-data
EMBC := $(BIN)/embc --data-dir $(DEMO)
# pip names every empty local index it looked at; keep the real messages.
QUIET := { grep -v "^WARNING: Location" || true; }

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]' 2>&1 | $(QUIET)
	$(BIN)/python -c "import embc.cli, sentence_transformers, umap, qdrant_edge"
	touch $(STAMP)

demo: $(STAMP)
	$(EMBC) ingest examples/wordnet-nouns-8.jsonl --collection wordnet
	$(EMBC) recluster --collection wordnet --k auto --seed 0
	$(EMBC) clusters --collection wordnet
	$(EMBC) plot map --collection wordnet --out images/wordnet-map.png
	$(EMBC) plot silhouette --collection wordnet --out images/wordnet-silhouette.png
	$(EMBC) plot elbow --collection wordnet --out images/wordnet-elbow.png
	$(EMBC) ingest images/samples/fashion-mnist-600 --collection fashion
	$(EMBC) recluster --collection fashion --k 10 --seed 0
	$(EMBC) plot montage --collection fashion --per-cluster 8 --out images/montage.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	# The labelled sets of bench/quality.py are made from Debian packages (bench/datasets.py); browser.py drives
	# chromium.
	bench/debian-packages.sh chromium wordnet-base fortunes dataset-fashion-mnist tuxpaint-stamps-default \
		unicode-data fonts-noto-color-emoji openclipart-png bible-kjv oxygen-icon-theme gcompris-qt-data dict-foldoc \
		manpages manpages-dev
	# For the bench only, embc depends on neither: BERTopic, the peer in bench/quality.py; faiss, a k-means engine
	# measured in bench/kmeans_engines.py.
	$(BIN)/pip install -q bertopic faiss-cpu 2>&1 | $(QUIET)
	$(BIN)/python bench/run.py
	cd bench && ../$(BIN)/python serve.py && ../$(BIN)/python browser.py && ../$(BIN)/python quality.py \
		&& ../$(BIN)/python quality.py --large && ../$(BIN)/python kmeans_engines.py && ../$(BIN)/python decoders.py

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info
