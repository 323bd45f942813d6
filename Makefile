# mmfsod: the two Quick-start commands and the set-up they share.
#   make demo            set up, then run the few-shot detection pipeline (toy)
#   make demo-anchornet  set up, then run the AnchorNet + LSP pipeline (toy)
#   make test            set up, then run the test suite
# VENV=path selects the virtual environment (default .venv);
# MMFSOD_PYTHON=/path/to/python uses an existing interpreter instead.
VENV ?= .venv
PYTHON := $(if $(MMFSOD_PYTHON),$(MMFSOD_PYTHON),$(VENV)/bin/python)
DEMO_BASE ?= configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py
DEMO_FT ?= configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_10shot-fine-tuning.py
DEMO_BASE_DIR ?= work_dirs/gcn-fsod_r18_c4_toy_base-training
DEMO_FT_DIR ?= work_dirs/gcn-fsod_r18_c4_toy_10shot-fine-tuning
PYTEST_ARGS ?=

export VENV

.PHONY: setup demo demo-anchornet test help toy-fsod-splits toy-fsod-data faster-rcnn-demo

help:
	@sed -n '2,7p' Makefile

setup:
	bash tools/misc/setup_env.sh

# The few-shot pipeline on the toy benchmark (9 base / 3 novel classes):
# data -> base training -> 10-shot fine-tuning -> novel/base AP-AR table and
# pictures of true/false positives.
demo: setup toy-fsod-splits
	@echo "== [1/3] base training on the 9 base classes -> $(DEMO_BASE_DIR)"
	$(PYTHON) tools/train.py $(DEMO_BASE) --work-dir $(DEMO_BASE_DIR)
	@echo "== [2/3] 10-shot fine-tuning on all 12 classes -> $(DEMO_FT_DIR)"
	$(PYTHON) tools/train.py $(DEMO_FT) --work-dir $(DEMO_FT_DIR) \
		--cfg-options load_from=$$(cat $(DEMO_BASE_DIR)/last_checkpoint)
	@echo "== [3/3] test: novel / base table, true (green) / false (red) positives"
	$(PYTHON) tools/test.py $(DEMO_FT) $$(cat $(DEMO_FT_DIR)/last_checkpoint) \
		--work-dir $(DEMO_FT_DIR)
	@echo "demo done: logs, checkpoints, tables and pictures (<timestamp>/tp_fp/) in $(DEMO_FT_DIR)"

# AnchorNet + LSP on the toy clutter set (6 classes, one labelled object among
# distractors): AnchorNet -> LSP records and pictures -> patches of the
# training images -> full-image baseline -> fine-tuning on the patches ->
# patches vs full image (accuracy, MACs, CPU time). The downstream configs read
# the checkpoints from these default work directories.
ANCHOR_CFG := configs/anchornet/toy/anchornet_toy-clutter
DOWNSTREAM_CFG := configs/anchornet/toy/downstream/resnet18-w16
ANCHOR_DIR := work_dirs/anchornet_toy-clutter
demo-anchornet: setup
	@echo "== [1/6] AnchorNet on the toy clutter set (20 epochs) -> $(ANCHOR_DIR)"
	$(PYTHON) tools/train.py $(ANCHOR_CFG).py --work-dir $(ANCHOR_DIR)
	@echo "== [2/6] LSP on the validation images (visualisation setting): records, pictures, hits"
	$(PYTHON) tools/test.py $(ANCHOR_CFG)_lsp-visualisation.py $(ANCHOR_DIR)/epoch_20.pth \
		--work-dir $(ANCHOR_DIR)
	$(PYTHON) tools/analysis_tools/lsp_object_overlap.py \
		$$(ls -t $(ANCHOR_DIR)/*/lsp_patches_visualisation.jsonl | head -n 1) \
		data/toy_clutter/meta/objects_val.json
	@echo "== [3/6] LSP patches of the training images (downstream setting)"
	$(PYTHON) tools/test.py $(ANCHOR_CFG)_lsp-downstream.py $(ANCHOR_DIR)/epoch_20.pth \
		--work-dir $(ANCHOR_DIR)_lsp-train --cfg-options test_dataloader.dataset.split=train
	@echo "== [4/6] the full-image classifier (narrow ResNet-18)"
	$(PYTHON) tools/train.py $(DOWNSTREAM_CFG)_toy-clutter_full.py
	@echo "== [5/6] the same classifier fine-tuned on the training patches"
	$(PYTHON) tools/train.py $(DOWNSTREAM_CFG)_anchornet-lsp-ft_toy-clutter.py
	@echo "== [6/6] patches vs the full image: top-1, MACs, CPU time per image"
	$(PYTHON) tools/analysis_tools/benchmark_patch_pipeline.py \
		$(DOWNSTREAM_CFG)_anchornet-lsp_toy-clutter.py work_dirs/resnet18-w16_anchornet-lsp-ft_toy-clutter/epoch_6.pth \
		$(DOWNSTREAM_CFG)_anchornet-lsp-table4-localize_toy-clutter.py work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth \
		$(DOWNSTREAM_CFG)_anchornet-lsp-table4-rescale_toy-clutter.py work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth \
		$(DOWNSTREAM_CFG)_toy-clutter_full.py work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth \
		--num-images 120
	@echo "demo-anchornet done: pictures in $(ANCHOR_DIR)/<timestamp>/lsp_vis/"

# Toy set and its TFA K-shot files (seeds 0-2).
toy-fsod-splits: setup
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_shapes
	$(PYTHON) tools/data/prepare_few_shot_split.py \
		--ann data/toy_shapes/annotations/instances_train.json \
		--seeds 0 1 2 --shots 1 2 3 5 10 30 --out data/toy_shapes/few_shot_ann

# The toy few-shot benchmark's data: the toy set, its TFA K-shot files, and
# pictures of a few query-support training pairs.
toy-fsod-data: toy-fsod-splits
	$(PYTHON) tools/analysis_tools/browse_query_support.py \
		configs/_base_/datasets/fsod_toy-shapes_base-training.py \
		--num 4 --out-dir work_dirs/query_support \
		--cfg-options train_dataloader.dataset.num_support_shots=3

# The plain Faster R-CNN on the toy set (the foundation's tool-chain check).
faster-rcnn-demo: setup
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_shapes
	$(PYTHON) tools/train.py configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py \
		--work-dir work_dirs/demo
	$(PYTHON) tools/test.py configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py \
		$$(cat work_dirs/demo/last_checkpoint) --work-dir work_dirs/demo --show-dir vis

test: setup
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)
