# Set-up on a fresh machine with Python 3.11 and pip takes two commands:
#
#   make demo   # .venv + install, synthetic data, the shipped demo checkpoint evaluated
#               # (AP of every instance and merged) and drawn on the validation images where
#               # its second instance finds people, then a short fine-tuning run from it
#   make test   # .venv + install, then the whole test suite (pytest -q --durations=10
#               # tests: its 10 slowest tests) and its skip count
#
# Both are idempotent: finished steps are skipped on the next run. The venv is reinstalled
# when pyproject.toml changes; the evaluation and the pictures are made again when their
# inputs change (checkpoint, config, data, DEMO_IMAGES / DEMO_DEVICE, the package's or the
# tools' code); `make clean-demo` forgets the demo's data and runs.
# `make demo-train` trains the demo model from scratch for DEMO_EPOCHS epochs instead.
# No step needs an activated venv: every tool runs as $(VENV)/bin/python tools/<tool>.py.
# Variables (make VAR=value): BOOT_PYTHON, VENV, TORCH_VERSION, PIP_TORCH_ARGS, PYTEST_ARGS,
# DEMO_CFG, DEMO_CKPT, DEMO_EPOCHS, DEMO_FINETUNE_EPOCHS, DEMO_TRAIN, DEMO_VAL, DEMO_IMAGES,
# DEMO_DATA, DEMO_OUT, DEMO_DEVICE.

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
PYTEST_ARGS ?= -q --durations=10

DEMO_DATA ?= data/synthetic
DEMO_TRAIN ?= 600
DEMO_VAL ?= 100
# The shipped demo model (README, "Demo checkpoint"): its config and weights; the loader
# checks the weights against $(DEMO_CKPT).sha256.
DEMO_CFG ?= experiments/synthetic/demo_mipnet.yaml
DEMO_CKPT ?= checkpoints/demo_mipnet.pth
DEMO_FINETUNE_EPOCHS ?= 1
# Fine-tuning continues at the LR the shipped model ended with (0.0005 / 10).
DEMO_FINETUNE_LR ?= 0.00005
DEMO_EPOCHS ?= 3
DEMO_OUT ?= output/demo
DEMO_IMAGES ?= 4
DEMO_DEVICE ?= cpu
# Run folder of DEMO_CFG under OUTPUT_DIR $(1) (<OUTPUT_DIR>/<dataset>/<model>/<cfg name>).
run_dir = $$($(PY) -c 'import sys; from mipnet.config import load_config, run_output_dir; \
	print(run_output_dir(load_config(sys.argv[1], sys.argv[2:]), sys.argv[1]))' \
	$(DEMO_CFG) OUTPUT_DIR $(1))
# tools/test.py on DEMO_CFG and the validation set of DEMO_DATA; $(1): weights, $(2): OUTPUT_DIR.
# Prints the AP table and one line with the AP of every instance mode.
evaluate = $(PY) tools/test.py --cfg $(DEMO_CFG) --data_path $(DEMO_DATA) --device $(DEMO_DEVICE) \
	TEST.MODEL_FILE $(1) OUTPUT_DIR $(2) LOG_DIR $(2)/log; \
	$(call ap_line,$(2))
# The AP of every instance mode of the evaluation under OUTPUT_DIR $(1), on one line.
ap_line = $(PY) -c 'import json, sys; m = json.load(open(sys.argv[1])); \
		print("    " + "   ".join("AP {}: {:.3f}".format(k, v["AP"]) for k, v in m.items()))' \
		$(call run_dir,$(1))/metrics_val.json
# What the evaluation and the pictures are made from besides the data: re-made when one of
# these changes (a missing lib/ or tools/ folder, as in an installed copy, adds nothing).
DEMO_CODE := $(shell find lib/mipnet tools -name '*.py' 2>/dev/null)
EVAL_STAMP := $(DEMO_OUT)/shipped/.complete
PICTURES_STAMP := $(DEMO_OUT)/pictures/.complete

.PHONY: help install demo demo-data demo-eval demo-pictures demo-finetune demo-train test \
	clean-demo FORCE

help:
	@echo "make demo        set up .venv, make synthetic data, evaluate and draw the shipped demo"
	@echo "                 model ($(DEMO_CKPT)), fine-tune it for $(DEMO_FINETUNE_EPOCHS) epoch(s) on CPU"
	@echo "make demo-train  train the demo model from scratch for $(DEMO_EPOCHS) epochs, evaluate it"
	@echo "make test        set up .venv and run the whole test suite (prints the skip count)"
	@echo "make install     only the virtual environment ($(VENV)) with torch==$(TORCH_VERSION)"
	@echo "make clean-demo  remove $(DEMO_DATA) and $(DEMO_OUT)"
	@echo "Tools run without activating the venv: $(PY) tools/<tool>.py (see README)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> virtual environment $(VENV): torch==$(TORCH_VERSION), then the project (.[test])"
	@test -x $(PY) || $(BOOT_PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_TORCH_ARGS) torch==$(TORCH_VERSION)
	$(PY) -m pip install -e '.[test]'
	@touch $@
	@echo "==> installed; the interpreter is $(PY) (no activation needed)"

# ---- make test ----------------------------------------------------------------------------
test: $(STAMP)
	@echo "==> pytest $(PYTEST_ARGS) tests"
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	$(PY) -m pytest $(PYTEST_ARGS) tests 2>&1 | tee "$$log"; \
	skipped=$$(tail -n 1 "$$log" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1 || true); \
	echo "==> skipped: $${skipped:-0} (each with its reason in the summary above)"

# ---- make demo ----------------------------------------------------------------------------
demo: demo-pictures demo-finetune
	@echo "==> demo done."
	@echo "    data:        $(DEMO_DATA) (example: $(DEMO_OUT)/synthetic_example.png)"
	@echo "    evaluation:  $(DEMO_OUT)/shipped/ (metrics_val.json, results/)"
	@echo "    pictures:    $(DEMO_OUT)/pictures/*.png (poses of every instance; JSON beside them)"
	@echo "    fine-tuned:  $(DEMO_OUT)/finetune/ (checkpoints and log)"
	@echo "    next:        README, 'After make demo' ($(PY) tools/<tool>.py, no activation)"

demo-data: $(DEMO_DATA)/.complete
	@if [ -f $(DEMO_DATA)/.complete.new ]; then rm -f $(DEMO_DATA)/.complete.new; else \
		echo "==> [1/4] synthetic data already made: $(DEMO_DATA)"; fi

$(DEMO_DATA)/.complete: | $(STAMP)
	@echo "==> [1/4] synthetic crowded dataset: $(DEMO_TRAIN) train + $(DEMO_VAL) val images -> $(DEMO_DATA)"
	@mkdir -p $(DEMO_OUT)
	$(PY) tools/make_synthetic.py --out $(DEMO_DATA) --num-train $(DEMO_TRAIN) \
		--num-val $(DEMO_VAL) --seed 0 --workers 2 --preview $(DEMO_OUT)/synthetic_example.png
	@touch $@ $@.new

# Steps 2 and 3 are files made from their inputs: a second `make demo` skips them (and says
# so) unless an input is newer.
demo-eval: demo-data $(EVAL_STAMP)
	@if [ -f $(EVAL_STAMP).new ]; then rm -f $(EVAL_STAMP).new; else \
		echo "==> [2/4] already evaluated, inputs unchanged: $(call run_dir,$(DEMO_OUT)/shipped)"; \
		$(call ap_line,$(DEMO_OUT)/shipped); \
	fi

$(EVAL_STAMP): $(DEMO_DATA)/.complete $(DEMO_CKPT) $(DEMO_CFG) $(DEMO_CODE) $(DEMO_OUT)/.eval-vars
	@echo "==> [2/4] evaluating the shipped $(DEMO_CKPT) on the $(DEMO_VAL) validation images" \
	     "(ground-truth boxes)"
	@rm -f $@
	@$(call evaluate,$(DEMO_CKPT),$(DEMO_OUT)/shipped)
	@touch $@ $@.new

demo-pictures: demo-eval $(PICTURES_STAMP)
	@if [ -f $(PICTURES_STAMP).new ]; then rm -f $(PICTURES_STAMP).new; else \
		echo "==> [3/4] pictures already drawn, inputs unchanged: $(DEMO_OUT)/pictures/"; \
	fi

$(PICTURES_STAMP): $(EVAL_STAMP) $(DEMO_OUT)/.pictures-vars
	@echo "==> [3/4] poses of all instances on the $(DEMO_IMAGES) validation images with the most" \
	     "people found only by instance 1 -> $(DEMO_OUT)/pictures/"
	@$(PY) tools/pick_images.py --gt $(DEMO_DATA)/annotations/person_keypoints_val.json \
		--results-dir $(call run_dir,$(DEMO_OUT)/shipped)/results \
		--images $(DEMO_DATA)/images/val --out $(DEMO_OUT)/val_images --num $(DEMO_IMAGES)
	@rm -rf $(DEMO_OUT)/pictures
	$(PY) tools/demo.py --cfg $(DEMO_CFG) --image $(DEMO_OUT)/val_images \
		--out $(DEMO_OUT)/pictures --device $(DEMO_DEVICE) \
		--boxes-file $(DEMO_DATA)/annotations/person_keypoints_val.json \
		TEST.MODEL_FILE $(DEMO_CKPT)
	@touch $@ $@.new

# The make variables a step reads, one file each, rewritten only when they change (so a
# changed DEMO_IMAGES re-draws the pictures and nothing else).
$(DEMO_OUT)/.eval-vars: FORCE
	@mkdir -p $(@D)
	@echo '$(DEMO_DEVICE)' | cmp -s - $@ || echo '$(DEMO_DEVICE)' > $@

$(DEMO_OUT)/.pictures-vars: FORCE
	@mkdir -p $(@D)
	@echo '$(DEMO_IMAGES) $(DEMO_DEVICE)' | cmp -s - $@ || echo '$(DEMO_IMAGES) $(DEMO_DEVICE)' > $@

FORCE:

demo-finetune: demo-data
	@run_dir=$(call run_dir,$(DEMO_OUT)/finetune); \
	if [ -f "$$run_dir/final_state.pth" ]; then \
		echo "==> [4/4] already fine-tuned: $$run_dir/final_state.pth (make clean-demo to redo)"; \
	else \
		echo "==> [4/4] fine-tuning $(DEMO_CKPT) on the $(DEMO_TRAIN) training images for" \
		     "$(DEMO_FINETUNE_EPOCHS) epoch(s) on $(DEMO_DEVICE) (log and checkpoints in $$run_dir)"; \
		$(PY) tools/train.py --cfg $(DEMO_CFG) --data_path $(DEMO_DATA) --device $(DEMO_DEVICE) \
			--pth_path $(DEMO_CKPT) TRAIN.END_EPOCH $(DEMO_FINETUNE_EPOCHS) \
			TRAIN.LR $(DEMO_FINETUNE_LR) OUTPUT_DIR $(DEMO_OUT)/finetune \
			LOG_DIR $(DEMO_OUT)/finetune/log \
			| grep --line-buffered -E 'Epoch: \[[0-9]+\]\[(0|[0-9]*0)/|Final AP|error|Error|=> '; \
	fi

demo-train: demo-data
	@run_dir=$(call run_dir,$(DEMO_OUT)/scratch); \
	if [ -f "$$run_dir/final_state.pth" ]; then \
		echo "==> already trained: $$run_dir/final_state.pth (make clean-demo to retrain)"; \
	else \
		echo "==> training $(DEMO_CFG) from scratch on $(DEMO_DEVICE) for $(DEMO_EPOCHS) epochs" \
		     "(log and checkpoints in $$run_dir)"; \
		$(PY) tools/train.py --cfg $(DEMO_CFG) --data_path $(DEMO_DATA) --device $(DEMO_DEVICE) \
			TRAIN.END_EPOCH $(DEMO_EPOCHS) AUTO_RESUME True OUTPUT_DIR $(DEMO_OUT)/scratch \
			LOG_DIR $(DEMO_OUT)/scratch/log \
			| grep --line-buffered -E 'Epoch: |Final AP|saved checkpoint|error|Error|=> '; \
	fi
	@echo "==> evaluating $(DEMO_OUT)/scratch's model_best.pth"
	@$(call evaluate,$(call run_dir,$(DEMO_OUT)/scratch)/model_best.pth,$(DEMO_OUT)/scratch)

clean-demo:
	rm -rf $(DEMO_DATA) $(DEMO_OUT)
