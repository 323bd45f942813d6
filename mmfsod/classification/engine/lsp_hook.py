"""Write AnchorNet's localized semantic patches during test (and val)."""
import json
import os
import os.path as osp
from typing import Optional

from mmengine.dist import (all_gather_object, barrier, get_rank, get_world_size,
                           is_main_process)
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from .lsp_recorder import (LSPRecorder, Setting, merge_lsp_record_parts,
                           resolve_lsp_setting)


@HOOKS.register_module()
class LSPHook(Hook):
    """Localize semantic patches (LSP, Algorithm 1) on every test image.

    For each prediction of an AnchorNet (``ImageClassifier`` with
    :class:`~mmfsod.classification.models.AnchorNetHead`), the chosen
    branch's heatmap ``M_theta = F_theta[gamma]`` (eqs. 6-8) and that branch's
    geometry for the sample's input size go through
    :func:`~mmfsod.classification.lsp.localize_semantic_patches` with the
    chosen ``setting``; one JSON line per image (the *LSP patch record*, see
    :mod:`mmfsod.classification.engine.lsp_recorder`) is written to
    ``<work_dir>/<timestamp>/<out_file>``, in dataset order (by
    ``sample_idx``). :class:`~mmfsod.classification.apis.LSPInferencer` writes
    the same records for a folder of images through the same
    :class:`LSPRecorder`.

    Records are streamed to disk as they are made, so memory does not grow
    with the dataset (an ImageNet training split is 1.28 M records): every
    rank appends its own to ``<out_file>.part<rank>``; after the loop rank 0
    merges the parts in ``sample_idx`` order (a streaming merge when every
    part is in order, as with a sequential sampler), drops the copies of the
    sampler's padding, writes the file and deletes the parts. Only the
    pictures' inputs (the attention maps of the images to draw) are gathered
    to rank 0, which draws them (mmengine's visualizers only draw on the main
    process).

    Pictures (``draw=True``): for the images with ``sample_idx < num_draw``
    (the first ``num_draw`` of the dataset, whichever the number of ranks),
    ``<idx>_<name>_patches.png`` -- the patches' ``ori_box`` on the original
    image, numbered in LSP order (Fig. 3) -- and ``<idx>_<name>_attention.png``
    -- the network input and the three attention maps ``S_j`` over it
    (Fig. 5), in ``<work_dir>/<timestamp>/<draw_dir>/``.

    Args:
        setting (str | dict): ``'visualisation'`` (K 5/3/2, T 0.3, P
            0.05/0.04/0.03), ``'downstream'`` (K 24/10/8, T 0.8, P 0.3) or a
            dict branch -> ``dict(k_max, iou_thr, coverage)``. Default
            ``'downstream'``.
        out_file (str): records file name, relative to the run's log
            directory. Default ``'lsp_patches.jsonl'``.
        draw (bool): draw pictures. Default False.
        num_draw (int): how many images to draw (``sample_idx < num_draw``).
            Default 8.
        draw_dir (str): picture folder, relative to the log directory.
        during_val (bool): also write records at every validation, to
            ``<out_file stem>_val_iter<N>.jsonl`` (pictures in
            ``<draw_dir>_val_iter<N>``). Default False.
        with_branch_scores (bool): keep every branch's class probabilities
            (``branch_scores``) in the records. With 1,000 classes they are
            most of a record (about 60 kB); the patch dataset does not need
            them. Default True.

    Raises:
        ValueError: an unknown setting, a setting with out-of-range K / T / P,
            or (at the first test) one that does not name exactly the model's
            branches; a sample without ``sample_idx``; an input smaller than
            the largest receptive field (naming the image).
    """

    priority = 'LOW'

    def __init__(self,
                 setting: Setting = 'downstream',
                 out_file: str = 'lsp_patches.jsonl',
                 draw: bool = False,
                 num_draw: int = 8,
                 draw_dir: str = 'lsp_vis',
                 during_val: bool = False,
                 with_branch_scores: bool = True) -> None:
        resolve_lsp_setting(setting)  # fail at build time on a bad setting
        if not isinstance(out_file, str) or not out_file.endswith('.jsonl'):
            raise ValueError(f'LSPHook: out_file must be a .jsonl file name, got '
                             f'{out_file!r}')
        if isinstance(num_draw, bool) or not isinstance(num_draw, int) or num_draw < 0:
            raise ValueError(f'LSPHook: num_draw must be an int >= 0, got {num_draw!r}')
        self.setting = setting
        self.out_file = out_file
        self.draw = draw
        self.num_draw = num_draw
        self.draw_dir = draw_dir
        self.during_val = during_val
        self.with_branch_scores = with_branch_scores
        self.recorder: Optional[LSPRecorder] = None
        self._part = None  # this rank's open part file
        self._in_order = True  # this rank's records came in sample_idx order
        self._last_idx = -1
        self._to_draw = []  # (record, attentions) of the images to draw
        self._folder = None
        self.last_out_file: Optional[str] = None

    # -- shared ----------------------------------------------------------------
    def _start(self, runner, dataloader, out_file: str, suffix: str = '') -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'backbone'):
            raise TypeError(f'LSPHook: the model {type(model).__name__} has no '
                            'backbone; LSP needs an AnchorNet ImageClassifier')
        classes = dataloader.dataset.metainfo.get('classes')
        self.recorder = LSPRecorder(model.backbone, self.setting, class_names=classes,
                                    visualizer=runner.visualizer)
        os.makedirs(runner.log_dir, exist_ok=True)
        self._part = open(self._part_path(runner, out_file, get_rank()), 'w',
                          encoding='utf-8')
        self._in_order, self._last_idx, self._to_draw = True, -1, []
        self._folder = osp.join(runner.log_dir, self.draw_dir + suffix)

    @staticmethod
    def _part_path(runner, out_file: str, rank: int) -> str:
        return osp.join(runner.log_dir, f'{out_file}.part{rank}')

    def _check_batch(self, data_batch) -> None:
        if data_batch is None:
            return
        samples = data_batch.get('data_samples') or [None] * len(data_batch['inputs'])
        for inputs, sample in zip(data_batch['inputs'], samples):  # (C, H, W) each
            img_path = sample.get('img_path') if sample is not None else None
            self.recorder.check_input(inputs.shape[-2:], img_path)

    def _add(self, outputs) -> None:
        for sample in outputs:
            idx = sample.get('sample_idx')
            if idx is None:
                raise KeyError(f'LSPHook: {sample.get("img_path", "a sample")} has '
                               'no "sample_idx" metainfo (keep it in PackInputs '
                               'meta_keys)')
            record = self.recorder(sample)
            if self.draw and idx < self.num_draw:
                # drawn on rank 0 at the end (needs the scores for captions)
                self._to_draw.append((record, self.recorder.attentions_of(sample)))
            if not self.with_branch_scores:
                record = {k: v for k, v in record.items() if k != 'branch_scores'}
            self._part.write(json.dumps(record) + '\n')
            self._in_order &= idx > self._last_idx
            self._last_idx = idx

    def _finish(self, runner, out_file: str) -> None:
        self._part.close()
        # small: the images to draw and an order flag, one pair per rank
        gathered = all_gather_object((self._to_draw, self._in_order))
        self._to_draw = []
        path = osp.join(runner.log_dir, out_file)
        parts = [self._part_path(runner, out_file, r) for r in range(get_world_size())]
        barrier()  # every part is complete
        if is_main_process():
            num = merge_lsp_record_parts(
                parts, path, sorted_parts=all(flag for _, flag in gathered))
            for part in parts:
                os.remove(part)
            drawn = {}
            for rank_items, _ in gathered:  # setdefault: drop the padding copies
                for record, attentions in rank_items:
                    drawn.setdefault(record['sample_idx'], (record, attentions))
            for idx in sorted(drawn):
                self.recorder.draw(*drawn[idx], self._folder)
            pictures = (f'; pictures of {len(drawn)} images in {self._folder}'
                        if self.draw else '')
            print_log(f'LSP ({self.recorder.setting_name} setting): {num} patch '
                      f'records written to {path}{pictures}', logger='current')
        barrier()
        self.last_out_file = path

    # -- test ------------------------------------------------------------------
    def before_test(self, runner) -> None:
        self._start(runner, runner.test_dataloader, self.out_file)

    def before_test_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._check_batch(data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self._add(outputs or [])

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish(runner, self.out_file)

    # -- val (optional) --------------------------------------------------------
    def _val_suffix(self, runner) -> str:
        return f'_val_iter{runner.iter}'

    def _val_out_file(self, runner) -> str:
        stem = osp.splitext(self.out_file)[0]
        return f'{stem}{self._val_suffix(runner)}.jsonl'

    def before_val(self, runner) -> None:
        if self.during_val:
            self._start(runner, runner.val_dataloader, self._val_out_file(runner),
                        self._val_suffix(runner))

    def before_val_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.during_val:
            self._check_batch(data_batch)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if self.during_val:
            self._add(outputs or [])

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.during_val:
            self._finish(runner, self._val_out_file(runner))
