"""The batch per GPU, total batch, lr and schedule that ``tools/train.py``
gives configs on N processes (mmfsod/utils/total_batch.py), as a Markdown
table; no process group, no data.

    python tools/misc/batch_table.py [CONFIG ...] [--gpus 1 4 8] [--auto-scale-lr]

Without configs: the paper configs that train (GCN-FSOD and TFA on COCO,
AnchorNet and the patch fine-tuning on ImageNet). A launch that would stop
(the total batch does not divide among N) shows the error in the row.
"""
import argparse
import copy
import glob
import os.path as osp
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)

from mmfsod.utils.total_batch import config_plan  # noqa: E402

PAPER_CONFIGS = ('configs/gcn_fsod/coco/**/*.py', 'configs/tfa/coco/*.py',
                 'configs/anchornet/imagenet/anchornet_8xb32_in1k.py',
                 'configs/anchornet/imagenet/downstream/*-ft_*.py')


def paper_configs(root: str = ROOT) -> list:
    """The paper's training configs, relative to ``root``, sorted."""
    found = set()
    for pattern in PAPER_CONFIGS:
        found.update(glob.glob(osp.join(root, pattern), recursive=True))
    return sorted(osp.relpath(p, root) for p in found)


def batch_row(cfg, config: str, world: int, scale_lr: bool) -> dict:
    """One run of ``cfg`` on ``world`` processes: per_gpu, total, lr (after
    mmengine's scaling), schedule ('120000 iterations' / '100 epochs');
    ``error`` instead when the launch would stop."""
    cfg = copy.deepcopy(cfg)
    if scale_lr:
        cfg.auto_scale_lr.enable = True
    try:
        plan = config_plan(cfg, config, world)
    except ValueError as exc:
        return dict(config=config, world=world, error=str(exc))
    loop = cfg.train_cfg
    schedule = (f"{loop['max_iters']} iterations" if loop.get('max_iters') is not None
                else f"{loop.get('max_epochs')} epochs")
    return dict(config=config, world=world, per_gpu=plan.per_gpu, total=plan.total,
                lr=cfg.optim_wrapper.optimizer.lr * plan.lr_factor, schedule=schedule)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Batch per GPU, total batch and lr on N GPUs')
    parser.add_argument('configs', nargs='*', help='config files (default: the paper configs)')
    parser.add_argument('--gpus', nargs='+', type=int, default=[1, 4, 8])
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="as tools/train.py --auto-scale-lr: the config's batch per GPU "
                        'kept, the lr scaled')
    args = parser.parse_args(argv)
    from mmengine.config import Config
    configs = args.configs or [osp.join(ROOT, c) for c in paper_configs()]
    print('| config | N | batch per GPU | total | lr | schedule |')
    print('|---|---|---|---|---|---|')
    for path in configs:
        cfg = Config.fromfile(path)
        name = osp.splitext(osp.basename(path))[0]
        for world in args.gpus:
            row = batch_row(cfg, path, world, args.auto_scale_lr)
            if 'error' in row:
                print(f"| {name} | {world} | error: {row['error'].split(': ', 1)[1]} | | | |")
            else:
                print(f"| {name} | {world} | {row['per_gpu']} | {row['total']} | "
                      f"{row['lr']:.6g} | {row['schedule']} |")


if __name__ == '__main__':
    main()
