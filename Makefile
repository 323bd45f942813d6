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

.PHONY: setup demo demo-anchornet anchornet-seeds test help toy-fsod-splits toy-fsod-data faster-rcnn-demo demo-combos tfa-comparison paper-scale-check

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
# early-exit calibration on held-out images -> patches vs full image
# (accuracy, MACs, CPU time). The downstream configs read
# the checkpoints from these default work directories.
ANCHOR_CFG := configs/anchornet/toy/anchornet_toy-clutter
DOWNSTREAM_CFG := configs/anchornet/toy/downstream/resnet18-w16
ANCHOR_DIR := work_dirs/anchornet_toy-clutter
FT_CKPT := work_dirs/resnet18-w16_anchornet-lsp-ft_toy-clutter/epoch_6.pth
FULL_CKPT := work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth
EXIT_DIR := work_dirs/resnet18-w16_anchornet-lsp_toy-clutter_early-exit
ONNX_DIR := work_dirs/resnet18-w16_anchornet-lsp_toy-clutter_onnx
demo-anchornet: setup
	@echo "== [1/7] AnchorNet on the toy clutter set (20 epochs) -> $(ANCHOR_DIR)"
	$(PYTHON) tools/train.py $(ANCHOR_CFG).py --work-dir $(ANCHOR_DIR)
	@echo "== [2/7] LSP on the validation images (visualisation setting): records, pictures, hits"
	$(PYTHON) tools/test.py $(ANCHOR_CFG)_lsp-visualisation.py $(ANCHOR_DIR)/epoch_20.pth \
		--work-dir $(ANCHOR_DIR)
	$(PYTHON) tools/analysis_tools/lsp_object_overlap.py \
		$$(ls -t $(ANCHOR_DIR)/*/lsp_patches_visualisation.jsonl | head -n 1) \
		data/toy_clutter/meta/objects_val.json
	@echo "== [3/7] LSP patches of the training images (downstream setting)"
	$(PYTHON) tools/test.py $(ANCHOR_CFG)_lsp-downstream.py $(ANCHOR_DIR)/epoch_20.pth \
		--work-dir $(ANCHOR_DIR)_lsp-train --cfg-options test_dataloader.dataset.split=train
	@echo "== [4/7] the full-image classifier (narrow ResNet-18)"
	$(PYTHON) tools/train.py $(DOWNSTREAM_CFG)_toy-clutter_full.py
	@echo "== [5/7] the same classifier fine-tuned on the training patches"
	$(PYTHON) tools/train.py $(DOWNSTREAM_CFG)_anchornet-lsp-ft_toy-clutter.py
	@echo "== [6/7] early-exit thresholds calibrated on the held-out split (never the test split)"
	$(PYTHON) tools/analysis_tools/calibrate_early_exit.py \
		$(DOWNSTREAM_CFG)_anchornet-lsp_toy-clutter.py $(FT_CKPT) --max-top1-drop 1 \
		--full $(DOWNSTREAM_CFG)_toy-clutter_full.py $(FULL_CKPT) \
		--rescale $(DOWNSTREAM_CFG)_anchornet-lsp-table4-rescale_toy-clutter.py $(FULL_CKPT) \
		--out-dir $(EXIT_DIR)
	@echo "== [7/7] patches (all, early exit) vs Table 4 vs the full image: top-1, MACs, CPU time per image;"
	@echo "   the same rows again with the classifier in the best installed engine (ONNX Runtime, else OpenVINO)"
	$(PYTHON) tools/analysis_tools/benchmark_patch_pipeline.py \
		$(DOWNSTREAM_CFG)_anchornet-lsp-all-patches_toy-clutter.py $(FT_CKPT) \
		$(EXIT_DIR)/early_exit_cfg.py $(FT_CKPT) \
		$(DOWNSTREAM_CFG)_anchornet-lsp-table4-localize_toy-clutter.py $(FULL_CKPT) \
		$(DOWNSTREAM_CFG)_anchornet-lsp-table4-rescale_toy-clutter.py $(FULL_CKPT) \
		$(DOWNSTREAM_CFG)_toy-clutter_full.py $(FULL_CKPT) \
		--num-images 120 --backends pytorch best --onnx-dir $(ONNX_DIR)
	@echo "demo-anchornet done: pictures in $(ANCHOR_DIR)/<timestamp>/lsp_vis/, early-exit plot $(EXIT_DIR)/early_exit_sweep.png, ONNX classifiers in $(ONNX_DIR)/"

# The same pipeline over training seeds 0-2 (mean ± std; docs/benchmarks.md, "AnchorNet + LSP toy results").
anchornet-seeds: setup
	$(PYTHON) tools/analysis_tools/toy_patch_seeds.py --seeds 0 1 2

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

# Unseen classes without fine-tuning need many base classes: the 72-class
# colour x shape toy set (60 base / 12 novel combinations), base training,
# then the 12 novel classes from 5 training boxes each with no training
# (tools/few_shot_demo.py: precision / recall at IoU 0.5, score 0.3) and
# the base model's novel AP with those templates.
COMBOS_BASE ?= configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-combos_base-training.py
COMBOS_TEST ?= configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-combos_novel-test.py
COMBOS_DIR ?= work_dirs/gcn-fsod_r18_c4_toy-combos_base-training
demo-combos: setup
	@echo "== [1/4] the toy shape-combination set and its K-shot files"
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_combos --categories combos72 \
		--num-train 600 --num-val 100
	$(PYTHON) tools/data/prepare_few_shot_split.py \
		--ann data/toy_combos/annotations/instances_train.json \
		--seeds 0 --shots 5 10 --out data/toy_combos/few_shot_ann
	@echo "== [2/4] base training on the 60 base classes -> $(COMBOS_DIR)"
	$(PYTHON) tools/train.py $(COMBOS_BASE) --work-dir $(COMBOS_DIR)
	@echo "== [3/4] the 12 novel classes from 5 boxes each, no fine-tuning"
	NOVEL="$$($(PYTHON) -c 'from mmfsod.utils.toy_shapes import TOY_SHAPE_COMBOS_NOVEL as N; print(" ".join(N))')"; \
	QUERIES=$$($(PYTHON) tools/analysis_tools/few_shot_precision_recall.py --list-images \
		data/toy_combos/annotations/instances_val.json --img-dir data/toy_combos --classes $$NOVEL); \
	SUPPORTS=$$(for c in $$NOVEL; do echo data/toy_combos/few_shot_ann/full_box_5shot_$${c}_trainval.json; done); \
	$(PYTHON) tools/few_shot_demo.py $$QUERIES $(COMBOS_TEST) $(COMBOS_DIR)/iter_1000.pth \
		--supports $$SUPPORTS --support-img-dir data/toy_combos --out-dir $(COMBOS_DIR)/novel_5box \
		--save-templates $(COMBOS_DIR)/novel_5box/templates.json
	$(PYTHON) tools/analysis_tools/few_shot_precision_recall.py $(COMBOS_DIR)/novel_5box/results.bbox.json \
		data/toy_combos/annotations/instances_val.json --iou 0.5 --score-thr 0.3 \
		--classes $$($(PYTHON) -c 'from mmfsod.utils.toy_shapes import TOY_SHAPE_COMBOS_NOVEL as N; print(" ".join(N))')
	@echo "== [4/4] the base model's novel AP with those templates (12-way novel-only test)"
	$(PYTHON) tools/test.py $(COMBOS_TEST) $(COMBOS_DIR)/iter_1000.pth --work-dir $(COMBOS_DIR)/novel_test \
		--cfg-options custom_hooks.0.templates_file=$(COMBOS_DIR)/novel_5box/templates.json

# TFA w/cos vs GCN-FSOD vs GCN-FSOD with the global-kernel RPN on the toy
# benchmark, 10 shots, seeds 0-2 (docs/benchmarks.md: "Baselines on the toy benchmark").
tfa-comparison: toy-fsod-splits
	$(PYTHON) tools/analysis_tools/fsod_baselines_benchmark.py \
		--out work_dirs/fsod_baselines_benchmark/figures.json

# The plain Faster R-CNN on the toy set (the foundation's tool-chain check).
faster-rcnn-demo: setup
	$(PYTHON) tools/data/generate_toy_shapes.py --out data/toy_shapes
	$(PYTHON) tools/train.py configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py \
		--work-dir work_dirs/demo
	$(PYTHON) tools/test.py configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py \
		$$(cat work_dirs/demo/last_checkpoint) --work-dir work_dirs/demo --show-dir vis

test: setup
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

# The paper configs (GCN-FSOD and TFA on COCO, AnchorNet + LSP and the
# ResNet-50 patch classifier on ImageNet) for a few iterations on generated
# paper-size data with random weights: s/it, peak memory, test s/image and the
# schedules' projected GPU-hours (tools/analysis_tools/README.md). E.g.
#   make paper-scale-check PAPER_SCALE_ARGS="--device cuda --iters 5"
# Its pytest check is marked slow: make test PYTEST_ARGS="-m slow".
PAPER_SCALE_ARGS ?=
paper-scale-check: setup
	$(PYTHON) tools/analysis_tools/paper_scale_check.py $(PAPER_SCALE_ARGS)
