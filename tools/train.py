"""Train a model from a config (mmdet or mmpretrain scope).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]

Multi-process: ``bash tools/dist_train.sh CONFIG NPROC [args]`` (also on CPU).
"""
import argparse
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from mmengine.config import Config  # noqa: E402

from mmfsod.utils.tools import (add_common_args, apply_amp,  # noqa: E402
                                apply_resume, build_runner, load_config,
                                parse_tool_args, run_main,
                                setup_work_dir)
from mmfsod.utils.total_batch import apply_total_batch  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='keep the config\'s batch per process and scale the lr linearly '
                        'with the total batch (default for a config with '
                        'auto_scale_lr.keep_total_batch: keep its total batch)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint; without a path, from the '
        'latest checkpoint in the work dir')
    add_common_args(parser)
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg: Config = load_config(args.config, args.cfg_options, args.launcher)
    setup_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        apply_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError(f'{args.config}: --auto-scale-lr needs '
                           '`auto_scale_lr = dict(base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    # the config's total batch on N processes (mmfsod/utils/total_batch.py)
    batch_note = apply_total_batch(cfg, args.config, cfg_options=args.cfg_options)
    apply_resume(cfg, args.resume)

    runner = build_runner(cfg)
    runner.logger.info(batch_note)
    runner.train()


if __name__ == '__main__':
    run_main(main)
