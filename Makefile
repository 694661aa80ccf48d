# Set-up on a fresh machine with Python 3.11 and pip takes two commands:
#
#   make demo   # .venv + install, synthetic data, a few minutes of CPU training,
#               # evaluation (AP of every instance and merged), pictures of predicted poses
#   make test   # .venv + install, then the whole test suite (pytest -q tests)
#
# Both are idempotent: finished steps are skipped on the next run (the venv is reinstalled
# when pyproject.toml changes; `make clean-demo` forgets the demo's data and training).
# Variables (make VAR=value): BOOT_PYTHON, VENV, TORCH_VERSION, PIP_TORCH_ARGS, PYTEST_ARGS,
# DEMO_CFG, DEMO_EPOCHS, DEMO_TRAIN, DEMO_VAL, DEMO_IMAGES, DEMO_DATA, DEMO_OUT, DEMO_DEVICE.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BOOT_PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mipnet-installed
TORCH_VERSION ?= 2.13.0
# Extra pip arguments for torch, e.g. --index-url https://download.pytorch.org/whl/cpu
PIP_TORCH_ARGS ?=
PYTEST_ARGS ?= -q

DEMO_DATA ?= data/synthetic
DEMO_TRAIN ?= 600
DEMO_VAL ?= 100
DEMO_CFG ?= experiments/synthetic/small_mipnet.yaml
DEMO_EPOCHS ?= 3
DEMO_OUT ?= output/demo
DEMO_IMAGES ?= 4
DEMO_DEVICE ?= cpu
DEMO_OPTS = OUTPUT_DIR $(DEMO_OUT) LOG_DIR $(DEMO_OUT)/log
# The run folder of DEMO_CFG under DEMO_OUT (OUTPUT_DIR/<dataset>/<model>/<cfg name>).
DEMO_RUN_DIR = $$($(PY) -c 'import sys; from mipnet.config import load_config, run_output_dir; \
	print(run_output_dir(load_config(sys.argv[1], sys.argv[2:]), sys.argv[1]))' \
	$(DEMO_CFG) $(DEMO_OPTS))

.PHONY: help install demo demo-data demo-train demo-eval demo-pictures test clean-demo

help:
	@echo "make demo    set up .venv, make synthetic data, train on CPU, evaluate, draw poses"
	@echo "make test    set up .venv and run the whole test suite"
	@echo "make install only the virtual environment ($(VENV)) with torch==$(TORCH_VERSION)"
	@echo "make clean-demo  remove $(DEMO_DATA) and $(DEMO_OUT)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> virtual environment $(VENV): torch==$(TORCH_VERSION), then the project (.[test])"
	@test -x $(PY) || $(BOOT_PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_TORCH_ARGS) torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[test]'
	@touch $@
	@echo "==> installed; the interpreter is $(PY)"

# ---- make test ----------------------------------------------------------------------------
test: $(STAMP)
	@echo "==> pytest $(PYTEST_ARGS) tests"
	$(PY) -m pytest $(PYTEST_ARGS) tests

# ---- make demo ----------------------------------------------------------------------------
demo: demo-pictures
	@run_dir=$(DEMO_RUN_DIR); \
	echo "==> demo done."; \
	echo "    data:        $(DEMO_DATA) (example: $(DEMO_OUT)/synthetic_example.png)"; \
	echo "    checkpoints: $$run_dir"; \
	echo "    metrics:     $$run_dir/metrics_val.json"; \
	echo "    pictures:    $(DEMO_OUT)/pictures/*.png (poses of every instance; JSON beside them)"

demo-data: $(DEMO_DATA)/.complete

$(DEMO_DATA)/.complete: | $(STAMP)
	@echo "==> [1/4] synthetic crowded dataset: $(DEMO_TRAIN) train + $(DEMO_VAL) val images -> $(DEMO_DATA)"
	@mkdir -p $(DEMO_OUT)
	$(PY) tools/make_synthetic.py --out $(DEMO_DATA) --num-train $(DEMO_TRAIN) \
		--num-val $(DEMO_VAL) --seed 0 --workers 2 --preview $(DEMO_OUT)/synthetic_example.png
	@touch $@

demo-train: demo-data
	@run_dir=$(DEMO_RUN_DIR); \
	if [ -f "$$run_dir/final_state.pth" ]; then \
		echo "==> [2/4] already trained: $$run_dir/final_state.pth (make clean-demo to retrain)"; \
	else \
		echo "==> [2/4] training $(DEMO_CFG) on $(DEMO_DEVICE) for $(DEMO_EPOCHS) epochs" \
		     "(a few minutes; log and checkpoints in $$run_dir)"; \
		$(PY) tools/train.py --cfg $(DEMO_CFG) --data_path $(DEMO_DATA) --device $(DEMO_DEVICE) \
			TRAIN.END_EPOCH $(DEMO_EPOCHS) AUTO_RESUME True $(DEMO_OPTS) \
			| grep --line-buffered -E 'Epoch: |Final AP|saved checkpoint|error|Error|=> '; \
	fi

demo-eval: demo-train
	@run_dir=$(DEMO_RUN_DIR); \
	echo "==> [3/4] evaluating $$run_dir/model_best.pth with tools/test.py"; \
	$(PY) tools/test.py --cfg $(DEMO_CFG) --data_path $(DEMO_DATA) --device $(DEMO_DEVICE) \
		TEST.MODEL_FILE $$run_dir/model_best.pth $(DEMO_OPTS); \
	$(PY) -c 'import json, sys; m = json.load(open(sys.argv[1])); \
		print("    " + "   ".join("AP {}: {:.3f}".format(k, v["AP"]) for k, v in m.items()))' \
		$$run_dir/metrics_val.json

demo-pictures: demo-eval
	@run_dir=$(DEMO_RUN_DIR); \
	echo "==> [4/4] predicted poses of all instances on $(DEMO_IMAGES) validation images" \
	     "-> $(DEMO_OUT)/pictures/"; \
	rm -rf $(DEMO_OUT)/val_images; mkdir -p $(DEMO_OUT)/val_images; \
	ls $(DEMO_DATA)/images/val | sort | head -n $(DEMO_IMAGES) \
		| while read -r f; do cp "$(DEMO_DATA)/images/val/$$f" $(DEMO_OUT)/val_images/; done; \
	$(PY) tools/demo.py --cfg $(DEMO_CFG) --image $(DEMO_OUT)/val_images \
		--out $(DEMO_OUT)/pictures --device $(DEMO_DEVICE) \
		--boxes-file $(DEMO_DATA)/annotations/person_keypoints_val.json \
		TEST.MODEL_FILE $$run_dir/model_best.pth

clean-demo:
	rm -rf $(DEMO_DATA) $(DEMO_OUT)
