# Everything a learner or CI needs, from a fresh clone. `make` (or `make help`) lists the commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.minisora-installed

# make lab: the address JupyterLab listens on (IP=0.0.0.0 inside Docker, to reach it from the
# host), its port, and extra `jupyter lab` options (tests/test_make_lab.py passes --no-browser).
IP ?= 127.0.0.1
PORT ?= 8888
LAB_ARGS ?=
# Jupyter refuses to start as root unless told; root is the default user in Docker, on many
# cloud VMs and in CI. `id -u` is the effective user.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# A browser opens 127.0.0.1 even when the server listens on every interface.
LAB_HOST := $(if $(filter 0.0.0.0,$(IP)),127.0.0.1,$(IP))

.PHONY: help install lab test demo bench notebooks clean
.DEFAULT_GOAL := help

help: ## list these commands
	@awk -F':.*## ' '/^[a-z]+:.*## / { printf "  make %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(STAMP) ## create .venv if missing and install minisora with its extras (lab, test, demo, bench and notebooks do this first)

# Re-install only when the dependency list changes (the package itself is installed editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# --port-retries=0: a busy port is an error, not a silent move to another port than the one printed.
lab: $(STAMP) ## create .venv if missing, install minisora with its extras, open JupyterLab on lessons/ (PORT=8888)
	@echo "JupyterLab on lessons/ at http://$(LAB_HOST):$(PORT)/lab (open the link with its token below; Ctrl-C twice stops it)"
	$(BIN)/jupyter lab lessons/ --ip=$(IP) --port=$(PORT) --port-retries=0 $(ALLOW_ROOT) $(LAB_ARGS)

# Fast mode: every notebook runs top to bottom in about two minutes on 2 CPU cores.
test: $(STAMP) ## the same environment, then every unit test and every notebook in fast mode (what CI runs)
	MINISORA_FAST=1 $(BIN)/python -m pytest tests --nbval-lax lessons solutions

demo: $(STAMP) ## render captioned Bouncing Shapes videos and generate a few from text with data/t2v.pt, into outputs/demo/
	$(BIN)/minisora demo --out outputs/demo --generate

bench: $(STAMP) ## speed vs peers (renderer vs PIL; U-Net, attention, DiT and video DiT vs diffusers), the judge's validation
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_unet.py
	$(BIN)/python bench/bench_attention.py
	$(BIN)/python bench/bench_dit.py
	$(BIN)/python bench/bench_video_dit.py
	$(BIN)/python bench/validate_judge.py

# Full mode: re-run every notebook in place to refresh the committed outputs (slow).
notebooks: $(STAMP) ## re-run every notebook in full mode, refreshing the committed outputs (slow)
	MINISORA_FAST=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 lessons/*.ipynb solutions/*.ipynb

clean: ## remove .venv, outputs/ and .cache/
	rm -rf $(VENV) outputs .cache
