# Set-up, tests and benchmarks. `make split FILE=...` and `make test` set everything up first.
# torch==2.13.0 is installed before the project: it is the CPU build that lies on this machine's
# disk; a bare `torch` requirement would pull a multi-GB CUDA build (see DEVELOPERS notes in
# README.md).

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
FILE    ?=
OUT     ?= separated
MODEL   ?= default
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBS    := ffmpeg fluidsynth fluid-soundfont-gm musescore-general-soundfont avldrums.lv2-soundfont
PYTEST_ARGS ?=

.PHONY: install debs split test test-gpu test-all bench lint experiment-adapt experiment-fewshot experiment-f0 experiment-f0-pitch synth-data clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory debs
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,demucs]'
	@touch $(STAMP)

# Debian packages: ffmpeg (museval, .stem.mp4), fluidsynth + SoundFonts (separate synth).
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi

split: install
	@[ -n "$(FILE)" ] || { echo 'usage: make split FILE=song.flac [OUT=separated] [MODEL=default]'; exit 2; }
	$(VENV)/bin/separate split "$(FILE)" -o "$(OUT)" -m "$(MODEL)"

test: install
	$(VENV)/bin/pytest -q -m "not slow and not gpu" $(PYTEST_ARGS)

# CPU and CUDA results compared (tests/test_gpu.py); every test skips where CUDA is absent.
# No `install` prerequisite: it would pip-install the CPU torch over a CUDA one and needs the
# network. VENV= names an environment with a CUDA torch and `separate[dev]` installed.
test-gpu:
	@[ -x $(VENV)/bin/pytest ] || { echo "test-gpu: no $(VENV)/bin/pytest (set VENV=)"; exit 2; }
	$(VENV)/bin/pytest -q -rs -m gpu $(PYTEST_ARGS)

test-all: install
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: install
	$(VENV)/bin/ruff check separate tests benchmarks
	$(VENV)/bin/mypy separate

experiment-adapt: install
	nice -n 19 $(PY) benchmarks/experiment_adapt.py -m default --synth data/synth/test --tracks 5 --stages L1,L2,L3,L4,L5,L6,M --markdown docs/adapt-table.md

# needs trained few-shot cards (see docs/fewshot-results.md for the training commands)
experiment-fewshot: install
	nice -n 19 $(PY) benchmarks/experiment_fewshot.py --corpus data/synth-ensemble --model fewshot --baseline fewshot-class --neg-model fewshot-neg --draws 3 --seconds 20 --out docs/fewshot-experiment.md

experiment-f0: install
	nice -n 19 $(PY) benchmarks/experiment_f0.py --voices 2,4 --start 54 --seconds 48 --max-mixtures 3 --methods dummy,nmf --out docs/f0-experiment.md
	nice -n 19 $(PY) benchmarks/experiment_f0.py --voices 2,4 --start 54 --seconds 48 --max-mixtures 3 --methods sf-model,sf-model-est,sf-model-fit,sf-model-est-fit --fit-steps 100 --fit-lr 1e-3 --append --out docs/f0-experiment.md --plot docs/f0-experiment.png
	nice -n 19 $(PY) benchmarks/experiment_f0.py --voices 2,4 --start 54 --seconds 48 --max-mixtures 3 --methods sf-fit --fit-steps 0 --hidden 128 --append --out docs/f0-experiment.md

experiment-f0-pitch: install
	nice -n 19 $(PY) benchmarks/experiment_f0_pitch.py --max-tracks 4 --seconds 20 --out /tmp/f0-pitch.md

synth-data: install
	$(VENV)/bin/separate synth data/synth --hours 2 --seed 1 --jobs 2
	$(VENV)/bin/separate synth data/synth-ensemble --kind ensemble --hours 1 --seed 2 --jobs 2
	$(VENV)/bin/separate synth data/synth-choir --kind choir --hours 0.5 --seed 3 --jobs 2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
