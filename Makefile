# Kairos: the two commands of the README are `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kairos-installed
APT_STAMP := $(VENV)/.kairos-system

.PHONY: serve test lint bench system clean

# The virtualenv is rebuilt only when pyproject.toml changes: a second run installs nothing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# PyTorch first, from the CPU wheel that lies on these machines: asked for indirectly (by
	# sentence-transformers), pip would resolve torch to a CUDA build of several GB.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# System packages: redis-server (`make serve` keeps its data in one; the test session starts its
# own servers when 127.0.0.1:6379 does not answer, and always a 3-node cluster) and Debian's
# Chromium + driver (browser tests).
$(APT_STAMP): | $(STAMP)
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	touch $(APT_STAMP)

system: $(APT_STAMP)

# Without KAIROS_REDIS_URL, `kairos serve` starts the redis-server installed here (data in var/).
serve: $(STAMP) $(APT_STAMP)
	$(BIN)/kairos serve --host 127.0.0.1 --port 8000

test: $(STAMP) $(APT_STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check service intent personalization content_pool tests bench
	$(BIN)/mypy

# The benchmarks also need wrk (Debian) for the side-by-side floor comparison.
bench: $(STAMP) $(APT_STAMP)
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@for script in bench/bench_*.py; do name=$$(basename $$script .py); echo "== $$name"; $(BIN)/python -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
