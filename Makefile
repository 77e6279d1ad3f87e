# StudyBot: `make run` sets everything up and runs the main job; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU torch first: anything else would let pip pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: build the index and answer a demo question on the embedded default.
# (The Discord bot will start here instead once STUDYBOT_DISCORD_TOKEN is set, when it lands.)
run: setup
	HF_HUB_OFFLINE=1 $(BIN)/studybot index build
	HF_HUB_OFFLINE=1 $(BIN)/studybot ask "What is overfitting and how do I prevent it?"

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data
