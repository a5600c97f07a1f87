# Every target sets up .venv/ by itself on first use (offline here: torch is the local
# CPU wheel, pinned in constraints.txt); later runs reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pip options for torch, e.g. PIP_TORCH_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# on a machine without a local CPU wheel, so that pip never picks a CUDA build.
PIP_TORCH_ARGS ?=
# Real corpora: ../shared/data where it exists (these machines), else data/ (the download script's).
S2S_DATA ?= $(if $(wildcard ../shared/data/multi30k),$(abspath ../shared/data),data)
export S2S_DATA

.PHONY: setup demo test test-fast multi30k clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt $(PIP_TORCH_ARGS) torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

data/demo/train.src: data/make_demo.py
	$(BIN)/python data/make_demo.py --out data/demo --seed 1

# Train, translate and score on the built-in demo corpus (about 2 minutes on 2 cores).
demo: $(STAMP) data/demo/train.src
	rm -rf runs/demo
	$(BIN)/s2s train -c configs/demo.yaml -o runs/demo
	$(BIN)/s2s translate -m runs/demo < data/demo/test.src > runs/demo/test.hyp
	@echo "--- a few test sentences (source / s2s / reference):"
	@paste data/demo/test.src runs/demo/test.hyp data/demo/test.tgt | head -n 4 | \
	  awk -F'\t' '{ print "  src: " $$1; print "  s2s: " $$2; print "  ref: " $$3; print "" }'
	@echo "--- test set score:"
	@$(BIN)/s2s eval --hyp runs/demo/test.hyp --ref data/demo/test.tgt

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Train and score the Multi30k German->English recipe on $(S2S_DATA)/multi30k.
multi30k: $(STAMP)
	$(BIN)/s2s train -c configs/multi30k_de_en.yaml -o runs/multi30k_de_en
	$(BIN)/s2s eval -m runs/multi30k_de_en --src $(S2S_DATA)/multi30k/test_2016_flickr.de \
	  --ref $(S2S_DATA)/multi30k/test_2016_flickr.en

clean:
	rm -rf runs data/demo
