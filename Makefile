# defstab: every target sets itself up.  `make book` and `make test` are all a new user needs.
#
# torch and torchvision are pinned as a pair from PyPI.  pip's configuration on our machines offers a local
# CPU-only torch 2.13.0 wheel, with which PyPI's torchvision fails at import ("operator torchvision::nms does
# not exist"); no CPU build of torchvision exists on PyPI.  The PyPI pair below (a CUDA build, which also runs
# on a CPU) is the stack of our GPU machines, so CPU and GPU runs share one torch version.  See the README.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH_PAIR := torch==2.11.0 torchvision==0.26.0
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` leaves out the tests marked `slow` (real multi-process runs, re-runs, the simulated Colab install);
# `make test-all` (what CI runs) includes them.
FAST   := -m "not slow"
# One thread per test process and per executed chapter: on a small, busy machine two processes with two threads
# each fight over the cores (a chapter at smoke parameters took 157 s with 2 threads against 35 s with 1).
TEST_ENV := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1}

.PHONY: install test test-all book bench data site-deps site-test gpu-check gpu-data clean help

help:
	@echo "make book    build the site into _build/html (executes every chapter with papermill)"
	@echo "make test    lint, unit tests and every chapter at its smoke parameters (and the browser suite, if _build/html"
	@echo "             exists); about 10 minutes on 2 cores; leaves out the tests marked slow"
	@echo "make test-all  make test with the slow tests (what CI runs)"
	@echo "make site-test  the browser suite over the built site (headless Chromium); fails when there is no site"
	@echo "make bench   benchmarks (speed targets live here, never in timed tests)"
	@echo "make gpu-check  on a CUDA machine (no network needed): CUDA tests, GPU benchmarks, a slice of the paper profile"
	@echo "make gpu-data   copy the installed Fashion-MNIST into .data/ (gitignored), to carry to a GPU machine without it"
	@echo "make install create .venv with the library, the book and test tools, and the offline data"

install: $(STAMP) data site-deps

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet $(TORCH_PAIR)
	$(PY) -m pip install --quiet -e ".[test,bench]" $(TORCH_PAIR)
	$(PY) -c "import torch, torchvision; print('torch', torch.__version__, '| torchvision', torchvision.__version__)"
	@touch $(STAMP)

# Offline data: Debian's dataset-fashion-mnist (the full Fashion-MNIST).  Needs root and apt-get; where either
# is missing this says so, and the book falls back to nothing: chapters that need it will name what is missing.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then \
	  echo "data: Fashion-MNIST found in /usr/share/datasets/fashion-mnist"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "data: installing Debian's dataset-fashion-mnist"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; } || \
	  echo "data: could not install dataset-fashion-mnist with apt-get; chapters will download Fashion-MNIST where a network allows"; \
	else \
	  echo "data: cannot install Debian's dataset-fashion-mnist (needs root and apt-get); run 'sudo apt-get install dataset-fashion-mnist'"; \
	  echo "      or let torchvision download Fashion-MNIST where a network is reachable"; \
	fi

# Browser for the site tests: Debian's chromium and chromium-driver (the suite drives the system browser through
# its chromedriver with Selenium; nothing downloads a browser of its own).  Installed like the data above.
site-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  echo "site-deps: $$(chromium --version 2>/dev/null | head -n1) and chromedriver found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "site-deps: installing Debian's chromium and chromium-driver"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; } || \
	  echo "site-deps: could not install chromium and chromium-driver with apt-get; make site-test will fail"; \
	else \
	  echo "site-deps: cannot install Debian's chromium and chromium-driver (needs root and apt-get);"; \
	  echo "           run 'sudo apt-get install chromium chromium-driver', or make site-test will fail"; \
	fi

# The browser suite (pytest marker `site`, tests/test_site.py) runs in `make test` only when _build/html exists
# (tests/conftest.py deselects it otherwise, and says so); `make site-test` always runs it, and fails without a site.
test: install
	$(PY) -m ruff check defstab_lib tests benchmarks
	$(TEST_ENV) $(PY) -m pytest $(FAST) $(PYTEST_ARGS)

test-all: install
	$(PY) -m ruff check defstab_lib tests benchmarks
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

site-test: install
	@test -f _build/html/index.html || { echo "site-test: no built site in _build/html: run 'make book' first"; exit 1; }
	$(PY) -m pytest --site -m site tests/test_site.py $(PYTEST_ARGS)
	@echo "site-test: screenshots in _build/screenshots/"

book: install
	$(PY) -m defstab_lib.book build

bench: install
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f; done

# The GPU check installs nothing (GPU machines may have no network): it uses .venv where there is one, else the
# python3 on PATH, which must have torch with CUDA.  Without CUDA it fails at once with one line.  Its paper slices
# train on Fashion-MNIST, then on CIFAR-10 where cifar-10-batches-py/ is in $DEFSTAB_DATA (or its cache) or in
# .data/ (extract cifar-10-python.tar.gz there to carry it along); without it, it says that slice is skipped.
GPU_PY := $(if $(wildcard $(PY)),$(PY),$(PYTHON))

gpu-check:
	$(GPU_PY) benchmarks/gpu_check.py

gpu-data:
	@mkdir -p .data/FashionMNIST/raw
	@if [ -d /usr/share/datasets/fashion-mnist ]; then cp /usr/share/datasets/fashion-mnist/*.gz .data/FashionMNIST/raw/ && \
	  echo "gpu-data: Fashion-MNIST copied to .data/FashionMNIST/raw (carry .data with the working tree)"; \
	else echo "gpu-data: no Fashion-MNIST in /usr/share/datasets/fashion-mnist ('make data' installs it)"; exit 1; fi

clean:
	rm -rf _build
