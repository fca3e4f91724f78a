# Everything a learner or CI needs, from a fresh clone:
#   make lab    create .venv if missing, install minisora with its extras, open JupyterLab on lessons/
#   make test   the same environment, then every unit test and every notebook in fast mode
#   make demo   render a few captioned Bouncing Shapes videos into outputs/demo/
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.minisora-installed

.PHONY: install lab test demo bench notebooks clean

install: $(STAMP)

# Re-install only when the dependency list changes (the package itself is installed editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab lessons/

# Fast mode: every notebook runs top to bottom in about two minutes on 2 CPU cores.
test: $(STAMP)
	MINISORA_FAST=1 $(BIN)/python -m pytest tests --nbval-lax lessons solutions

demo: $(STAMP)
	$(BIN)/minisora demo --out outputs/demo

bench: $(STAMP)
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_unet.py
	$(BIN)/python bench/bench_attention.py
	$(BIN)/python bench/bench_dit.py
	$(BIN)/python bench/validate_judge.py

# Full mode: re-run every notebook in place to refresh the committed outputs (slow).
notebooks: $(STAMP)
	MINISORA_FAST=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 lessons/*.ipynb solutions/*.ipynb

clean:
	rm -rf $(VENV) outputs .cache
