"""Every detection config stops a training whose loss turns NaN or infinite
(mmdet's CheckInvalidLossHook in configs/_base_/default_runtime_det.py)
instead of training on and testing to zeros."""
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from conftest import REPO

CONFIGS = ['configs/tfa/toy/tfa_r18_fpn_toy-voc_base-training.py',
           'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py']


@pytest.mark.parametrize('config', CONFIGS)
def test_nan_loss_stops_the_training(config):
    import mmdet.engine  # noqa: F401  (registers the hooks)
    from mmdet.registry import HOOKS
    cfg = Config.fromfile(osp.join(REPO, config))
    hook_cfg = cfg.default_hooks.check_invalid_loss
    with DefaultScope.overwrite_default_scope('mmdet'):
        hook = HOOKS.build(hook_cfg.to_dict())
    runner = mock.MagicMock()
    runner.iter = hook_cfg.interval - 1  # the check's iteration
    hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(0.7)))
    for bad in (float('nan'), float('inf')):
        with pytest.raises(AssertionError):
            hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(bad)))
