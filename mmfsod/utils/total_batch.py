"""The paper's total batch on any number of processes (``tools/train.py``).

A paper config states the total batch its lr and schedule are for, and asks
for it to be kept::

    auto_scale_lr = dict(enable=False, base_batch_size=8, keep_total_batch=True)

Launched with N processes (``dist_train.sh CONFIG N``, ``slurm_train.sh``
with ``GPUS=N``):

* by default the total batch is kept: the batch per process becomes
  ``base_batch_size / N`` (the config's ``train_dataloader.batch_size`` is
  what the config's name says, e.g. 2 of ``4xb2``, and is replaced), the lr
  and the iterations / epochs stay the paper's. N must divide the total batch
  (with ``optim_wrapper.accumulative_counts`` A: N x A must divide it).
  Another total batch at the same lr: ``--cfg-options
  auto_scale_lr.base_batch_size=16``
  (a ``train_dataloader.batch_size`` override is replaced);
* with ``--auto-scale-lr`` (or ``auto_scale_lr.enable=True``) the config's
  batch per process is kept, the total batch becomes N x batch, and
  mmengine's ``Runner.scale_lr`` multiplies the lr by total / base_batch_size
  (the iterations / epochs stay the config's).

A batch per process given on the command line
(``--cfg-options train_dataloader.batch_size=B``) is the user's choice and
wins over the kept total batch: the run has N x B, with the config's lr
(or the lr scaled with ``--auto-scale-lr``), and the log line says so.

Configs without ``keep_total_batch`` (the toy and test configs, which inherit
the paper schedules' ``base_batch_size``, and users' configs) keep the batch
per process they state, as before. Every training run logs one line, e.g.
``total batch 8 = 4 processes x 2 (kept: the config's total batch); lr 0.002;
120000 iterations``.
"""
import os
from typing import NamedTuple, Optional

from mmengine.config import Config


class BatchPlan(NamedTuple):
    """How one training run batches: ``per_gpu`` items per process and
    iteration, ``total`` = processes x ``per_gpu`` x accumulation,
    ``lr_factor`` what mmengine multiplies the lr by, ``mode`` one of
    ``'kept'``, ``'scaled'``, ``'config'``, ``'command line'``."""
    per_gpu: int
    total: int
    lr_factor: float
    mode: str


def _divisors(n: int) -> str:
    ds = [str(d) for d in range(1, n + 1) if n % d == 0]
    return ds[0] if len(ds) == 1 else ', '.join(ds[:-1]) + ' or ' + ds[-1]


def plan_batch(total: Optional[int], per_gpu: int, world: int, scale_lr: bool,
               keep_total: bool, accumulate: int = 1,
               where: str = 'config', per_gpu_given: bool = False) -> BatchPlan:
    """The batch per process of a run of ``world`` processes.

    Args:
        total: the config's total batch (``auto_scale_lr.base_batch_size``),
            None if it states none.
        per_gpu: the config's ``train_dataloader.batch_size``.
        world: the number of processes.
        scale_lr: ``--auto-scale-lr``: keep ``per_gpu``, scale the lr.
        keep_total: the config's ``auto_scale_lr.keep_total_batch``.
        accumulate: ``optim_wrapper.accumulative_counts``.
        where: the config's path, for the error.
        per_gpu_given: ``per_gpu`` was set on the command line: it is kept
            (the total batch is not), unless the lr is scaled.

    Raises:
        ValueError: the total batch is kept and does not divide among
            ``world`` x ``accumulate``; or a setting is missing / not positive.
    """
    for name, value in (('world size', world), ('batch_size', per_gpu),
                        ('accumulative_counts', accumulate)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f'{where}: {name} must be a positive int, got {value!r}')
    if (keep_total or scale_lr) and total is None:
        raise ValueError(f'{where}: auto_scale_lr.base_batch_size (the total batch the '
                         'lr is for) is needed by ' +
                         ('--auto-scale-lr' if scale_lr else 'keep_total_batch'))
    if total is not None and (not isinstance(total, int) or total < 1):
        raise ValueError(f'{where}: auto_scale_lr.base_batch_size must be a positive '
                         f'int, got {total!r}')
    if scale_lr:
        # mmengine's Runner.scale_lr: world x batch / base_batch_size (it
        # leaves gradient accumulation out of the ratio)
        return BatchPlan(per_gpu, world * per_gpu * accumulate,
                         world * per_gpu / total, 'scaled')
    if not keep_total or per_gpu_given:
        return BatchPlan(per_gpu, world * per_gpu * accumulate, 1.0,
                         'command line' if keep_total else 'config')
    if total % (world * accumulate):
        acc = f' x {accumulate} accumulated' if accumulate > 1 else ''
        raise ValueError(
            f'{where}: the total batch {total} (auto_scale_lr.base_batch_size) does not '
            f'divide among {world} processes{acc}; use {_divisors(total // accumulate)} '
            f'processes, or --auto-scale-lr to keep {per_gpu} per process and scale the lr')
    return BatchPlan(total // (world * accumulate), total, 1.0, 'kept')


def world_size_from_env(launcher: str = 'none') -> int:
    """The number of processes of this run, before ``torch.distributed`` is
    initialised: 1 without a launcher, else what the launcher exported
    (torchrun: ``WORLD_SIZE``; Slurm: ``SLURM_NTASKS``; MPI:
    ``OMPI_COMM_WORLD_SIZE``), as mmengine's ``init_dist`` reads them."""
    if launcher in (None, 'none'):
        return 1
    keys = {'pytorch': ('WORLD_SIZE', ),
            'slurm': ('WORLD_SIZE', 'SLURM_NTASKS'),
            'mpi': ('OMPI_COMM_WORLD_SIZE', 'WORLD_SIZE')}.get(launcher, ('WORLD_SIZE', ))
    for key in keys:
        if os.environ.get(key):
            return int(os.environ[key])
    raise RuntimeError(f'--launcher {launcher}: none of {", ".join(keys)} is set; '
                       'start the job with tools/dist_train.sh or tools/slurm_train.sh')


def _fmt(x: float) -> str:
    return f'{x:.6g}'


def describe(cfg: Config, plan: BatchPlan, world: int) -> str:
    """The one log line: total batch, batch per process, lr, schedule."""
    acc = cfg.get('optim_wrapper', {}).get('accumulative_counts', 1)
    procs = f'{world} process' + ('es' if world != 1 else '')
    acc_text = f' x {acc} accumulated' if acc > 1 else ''
    asl = cfg.get('auto_scale_lr') or {}
    base = asl.get('base_batch_size')
    why = {'kept': "kept: the config's total batch",
           'scaled': f"--auto-scale-lr: the config's {plan.per_gpu} per process",
           'config': "the config's batch per process",
           'command line': (f'train_dataloader.batch_size from the command line; the '
                            f"config's total batch {base} is not kept and its lr is not "
                            'scaled (add --auto-scale-lr to scale it)')}[plan.mode]
    text = f'total batch {plan.total} = {procs} x {plan.per_gpu}{acc_text} ({why})'
    lr = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('lr')
    if lr is not None:
        if plan.mode == 'scaled':
            text += (f'; lr {_fmt(lr)} x {world * plan.per_gpu}/{base} = '
                     f'{_fmt(lr * plan.lr_factor)}')
        else:
            text += f'; lr {_fmt(lr)}'
    loop = cfg.get('train_cfg') or {}
    if loop.get('max_iters') is not None:
        text += f"; {loop['max_iters']} iterations"
    elif loop.get('max_epochs') is not None:
        text += f"; {loop['max_epochs']} epochs"
    return text


def config_plan(cfg: Config, where: str = 'config', world: int = 1,
                per_gpu_given: bool = False) -> BatchPlan:
    """:func:`plan_batch` for a config run on ``world`` processes;
    ``--auto-scale-lr`` is read from ``cfg.auto_scale_lr.enable``."""
    loader = cfg.get('train_dataloader')
    if not loader or 'batch_size' not in loader:
        raise KeyError(f'{where}: train_dataloader.batch_size is needed to train')
    asl = cfg.get('auto_scale_lr') or {}
    return plan_batch(asl.get('base_batch_size'), loader.batch_size, world,
                      scale_lr=bool(asl.get('enable', False)),
                      keep_total=bool(asl.get('keep_total_batch', False)),
                      accumulate=cfg.get('optim_wrapper', {}).get('accumulative_counts', 1),
                      where=where, per_gpu_given=per_gpu_given)


def apply_total_batch(cfg: Config, where: str = 'config',
                      world: Optional[int] = None,
                      cfg_options: Optional[dict] = None) -> str:
    """Set ``cfg.train_dataloader.batch_size`` for a run of ``world``
    processes (default: from the launcher's environment) by the rule of this
    module. Call it before the runner builds the dataloaders. ``cfg_options``
    (``--cfg-options``) tells whether the batch per process was given on the
    command line. Returns the log line."""
    if world is None:
        world = world_size_from_env(cfg.get('launcher', 'none'))
    given = 'train_dataloader.batch_size' in (cfg_options or {})
    plan = config_plan(cfg, where, world, per_gpu_given=given)
    cfg.train_dataloader.batch_size = plan.per_gpu
    return describe(cfg, plan, world)
