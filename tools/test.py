"""Test (evaluate) a checkpoint with a config (mmdet or mmpretrain scope).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--show-dir DIR] [--show] [--cfg-options k=v ...]
                         [--launcher pytorch]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from mmfsod.utils.tools import (add_common_args, apply_show,  # noqa: E402
                                build_runner, load_config, parse_tool_args,
                                run_main, setup_work_dir)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir',
                        help='the directory to save the file containing '
                        'evaluation metrics')
    parser.add_argument('--out', type=str,
                        help='dump the predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results in a window')
    parser.add_argument('--show-dir',
                        help='directory where painted images will be saved; '
                        'relative to the run\'s timestamped work sub-directory')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    add_common_args(parser)
    return parse_tool_args(parser, argv)


def drop_incomplete_loops(cfg) -> None:
    """A test runs no training or validation loop: the training (validation)
    settings of a config that inherits a dataloader without its loop (the
    ImageNet patch-test configs inherit the fine-tuning's train_dataloader,
    not its schedule) are set to None; mmengine's Runner would refuse them
    ("... should be either all None or not None")."""
    for group in (('train_dataloader', 'train_cfg', 'optim_wrapper'),
                  ('val_dataloader', 'val_cfg', 'val_evaluator')):
        if len({cfg.get(key) is None for key in group}) > 1:
            for key in group:
                cfg[key] = None


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_config(args.config, args.cfg_options, args.launcher)
    setup_work_dir(cfg, args.config, args.work_dir)
    cfg.load_from = args.checkpoint
    drop_incomplete_loops(cfg)
    if args.show or args.show_dir:
        apply_show(cfg, args.show, args.show_dir, args.wait_time)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out!r}: the output file must be a .pkl file')
        dump = dict(type='DumpDetResults' if cfg.get('default_scope') == 'mmdet'
                    else 'DumpResults', out_file_path=args.out)
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = (list(evaluators) if isinstance(evaluators, (list, tuple))
                              else [evaluators]) + [dump]

    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    run_main(main)
