# mmfsod: the two Quick-start commands and the set-up they share.
#   make demo   set up, then run the toy pipeline end to end
#   make test   set up, then run the test suite
# VENV=path selects the virtual environment (default .venv);
# MMFSOD_PYTHON=/path/to/python uses an existing interpreter instead.
VENV ?= .venv
PYTHON := $(if $(MMFSOD_PYTHON),$(MMFSOD_PYTHON),$(VENV)/bin/python)
DEMO_CONFIG ?= configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py
DEMO_DIR ?= work_dirs/demo
PYTEST_ARGS ?=

export VENV

.PHONY: setup demo test help toy-fsod-data

help:
	@sed -n '2,6p' Makefile

setup:
	bash tools/misc/setup_env.sh

demo: setup
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_shapes
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) $$(cat $(DEMO_DIR)/last_checkpoint) \
		--work-dir $(DEMO_DIR) --show-dir vis
	@echo "demo done: logs, checkpoints and pictures (<timestamp>/vis/) in $(DEMO_DIR)"

# The toy few-shot benchmark's data: the toy set, its TFA K-shot files, and
# pictures of a few query-support training pairs.
toy-fsod-data: setup
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_shapes
	$(PYTHON) tools/data/prepare_few_shot_split.py \
		--ann data/toy_shapes/annotations/instances_train.json \
		--seeds 0 1 2 --shots 1 2 3 5 10 30 --out data/toy_shapes/few_shot_ann
	$(PYTHON) tools/analysis_tools/browse_query_support.py \
		configs/_base_/datasets/fsod_toy-shapes_base-training.py \
		--num 4 --out-dir work_dirs/query_support \
		--cfg-options train_dataloader.dataset.num_support_shots=3

test: setup
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)
