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

.PHONY: setup browser demo test test-fast multi30k bench bench-search bench-variants bench-serve quality clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt $(PIP_TORCH_ARGS) torch==2.13.0+cpu
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,serve]'
	touch $@

# The page test drives Debian's Chromium: installed here with apt-get where that can be done
# (as root, on Debian); elsewhere tests/test_page.py skips and says why.
browser:
	@if [ ! -x /usr/bin/chromedriver ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (apt-get) for the page test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver) >/dev/null 2>&1 || echo "could not install chromium: the page test will skip"; \
	fi

DEMO_DATA := data/demo/.generated

$(DEMO_DATA): data/make_demo.py | $(STAMP)
	$(BIN)/python data/make_demo.py --out data/demo --seed 1
	touch $@

# Train, translate and score on the built-in demo corpus (about 2 minutes on 2 cores).
demo: $(STAMP) $(DEMO_DATA)
	rm -rf runs/demo
	$(BIN)/s2s train -c configs/demo.yaml -o runs/demo
	$(BIN)/s2s translate -m runs/demo < data/demo/test.src > runs/demo/test.hyp
	@echo "--- a few test sentences (source / s2s / reference):"
	@paste data/demo/test.src runs/demo/test.hyp data/demo/test.tgt | head -n 4 | \
	  awk -F'\t' '{ print "  src: " $$1; print "  s2s: " $$2; print "  ref: " $$3; print "" }'
	@echo "--- test set scores (sacrebleu):"
	@$(BIN)/s2s eval --hyp runs/demo/test.hyp --ref data/demo/test.tgt
	@echo "demo test BLEU: $$($(BIN)/s2s eval --hyp runs/demo/test.hyp --ref data/demo/test.tgt -b | head -n 1)"

# The suite in as many processes as the machine has cores (pytest-xdist), one thread each.
TEST_PROCESSES ?= auto
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) -m "not slow"

# Train (or resume) the Multi30k German->English recipe on $(S2S_DATA)/multi30k, then score
# test_2016_flickr.
M30K_RUN := runs/multi30k_de_en
multi30k: $(STAMP)
	if [ -f $(M30K_RUN)/last.pt ]; then $(BIN)/s2s train -o $(M30K_RUN) --resume; \
	else $(BIN)/s2s train -c configs/multi30k_de_en.yaml -o $(M30K_RUN); fi
	$(BIN)/s2s eval -m $(M30K_RUN)

# Greedy and beam search (5, 10), batched and one sentence at a time: BLEU and speed on
# test_2016_flickr with the model `make multi30k` trains (about 10 minutes on 2 cores).
bench-search: $(STAMP)
	$(BIN)/python bench/search.py -m $(M30K_RUN)

# Speed of the reference model: training pieces/s (Multi30k and Tatoeba), peak memory,
# greedy/beam-5 and int8 translation, each against the machine's measured matmul peak
# (about 15 minutes on 2 cores). BENCH_ARGS=--peers adds Joey NMT and OpenNMT-py.
bench: $(STAMP)
	$(BIN)/python bench/speed.py -m $(M30K_RUN) $(BENCH_ARGS)

# Load test of s2s serve with the model `make multi30k` trains: 1, 8 and 64 concurrent clients,
# batching on and off, against s2s translate (about 10 minutes on 2 cores).
bench-serve: $(STAMP)
	$(BIN)/python bench/serve.py -m $(M30K_RUN)

# Every architecture (cells, attention variants, no attention with each context) trained for
# the same wall-clock budget on the demo corpus (about 25 minutes on 2 cores).
bench-variants: $(STAMP) $(DEMO_DATA)
	$(BIN)/python bench/variants.py

# Train a recipe and score it: make quality RECIPE=multi30k_de_en_fast (see bench/quality.sh).
RECIPE ?= multi30k_de_en_fast
quality: $(STAMP)
	bash bench/quality.sh $(RECIPE)

clean:
	rm -rf runs/demo data/demo
