"""A test-only hook: every rank writes its own parameters at the end of
training to ``<work_dir>/params_rank<r>.pth`` and before it to
``params_rank<r>_init.pth`` (the checkpoint holds rank 0's only), so a test
can compare the ranks."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SaveRankParamsHook(Hook):

    @staticmethod
    def _save(runner, suffix: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'params_rank{get_rank()}{suffix}.pth'))

    def before_train(self, runner) -> None:
        self._save(runner, '_init')

    def after_train(self, runner) -> None:
        self._save(runner, '')
