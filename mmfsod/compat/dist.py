"""Multi-process training on CPU with mmengine's launchers.

mmengine 0.10.x assumes an accelerator when it runs distributed: its
``init_dist`` calls ``torch.cuda.set_device`` and defaults to NCCL, and
``Runner.wrap_model`` gives ``MMDistributedDataParallel`` the local rank as
``device_ids``. Both fail when torch sees no GPU.

:func:`patch_cpu_distributed` changes that only where no accelerator is
available:

* ``init_dist`` (launchers ``pytorch``, ``slurm``, ``mpi``) fills in the
  rank environment as mmengine does, then initialises a **gloo** process group
  without touching CUDA, and sets a per-process thread count
  (cores / processes on this node) unless ``OMP_NUM_THREADS`` says otherwise,
  and destroys the group at exit;
* ``MMDistributedDataParallel`` wrapping a module whose parameters all live
  on the CPU drops ``device_ids``/``output_device`` (DDP requires ``None``
  for CPU modules).

With a GPU (or another accelerator mmengine knows), nothing changes.
"""
import atexit
import datetime
import functools
import os
import subprocess

import torch
import torch.distributed as torch_dist

_ACTIVE = False


def _accelerator_available() -> bool:
    from mmengine.device import (is_cuda_available, is_mlu_available,
                                 is_musa_available, is_npu_available)
    return (is_cuda_available() or is_mlu_available() or is_npu_available()
            or is_musa_available())


def _set_rank_env(launcher: str, port=None) -> None:
    """Fill RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* from the launcher."""
    env = os.environ
    if launcher == 'pytorch':
        missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
                   if k not in env]
        if missing:
            raise KeyError(f'launcher "pytorch" needs the environment variables '
                           f'{missing}; start the job with torchrun '
                           '(tools/dist_train.sh) or use --launcher none')
        env.setdefault('LOCAL_RANK', env['RANK'])
    elif launcher == 'slurm':
        proc_id = int(env['SLURM_PROCID'])
        env['RANK'] = str(proc_id)
        env['WORLD_SIZE'] = env['SLURM_NTASKS']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
        if port is not None:
            env['MASTER_PORT'] = str(port)
        env.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in env:
            node_list = env['SLURM_NODELIST']
            env['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
    elif launcher == 'mpi':
        env['RANK'] = env['OMPI_COMM_WORLD_RANK']
        env['WORLD_SIZE'] = env['OMPI_COMM_WORLD_SIZE']
        env['LOCAL_RANK'] = env['OMPI_COMM_WORLD_LOCAL_RANK']
        env.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in env:
            raise KeyError('launcher "mpi": the environment variable MASTER_ADDR '
                           'is not set')
    else:
        raise ValueError(f'Invalid launcher type: {launcher!r}; expected one of '
                         '"pytorch", "slurm", "mpi"')


def local_world_size() -> int:
    """Processes of this job on this node (torchrun / slurm / mpi), else 1."""
    for key in ('LOCAL_WORLD_SIZE', 'SLURM_NTASKS_PER_NODE',
                'OMPI_COMM_WORLD_LOCAL_SIZE'):
        value = os.environ.get(key, '')
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def init_dist_cpu(launcher: str, backend: str = 'gloo', **kwargs) -> None:
    """Initialise a gloo process group for ``launcher`` on a CPU-only host."""
    if backend not in ('gloo', 'mpi'):
        backend = 'gloo'  # nccl/hccl/... need a device
    kwargs.pop('init_backend', None)
    port = kwargs.pop('port', None)
    timeout = kwargs.get('timeout')
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    _set_rank_env(launcher, port)
    torch_dist.init_process_group(
        backend=backend, rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    # A gloo group still alive at interpreter exit can abort the process
    # ("terminate called without an active exception") after a finished run.
    atexit.register(_destroy_process_group)
    if 'OMP_NUM_THREADS' not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world_size()))
    from mmengine.logging import print_log
    print_log(f'mmfsod: CPU distributed, backend {backend}, rank '
              f'{torch_dist.get_rank()} of world size {torch_dist.get_world_size()}, '
              f'{torch.get_num_threads()} torch thread(s) per process',
              logger='current')


def _destroy_process_group() -> None:
    if torch_dist.is_available() and torch_dist.is_initialized():
        # Every rank first reaches this point: a rank that tears its gloo
        # group down while a peer still talks to it can abort the peer
        # ("terminate called without an active exception", seen under load).
        try:
            torch_dist.monitored_barrier(timeout=datetime.timedelta(seconds=60))
        except Exception:  # a peer that is gone: nothing to wait for
            pass
        torch_dist.destroy_process_group()


def _cpu_aware_init_dist(orig):

    @functools.wraps(orig)
    def init_dist(launcher, backend='nccl', init_backend='torch', **kwargs):
        if _accelerator_available():
            return orig(launcher, backend=backend, init_backend=init_backend, **kwargs)
        if init_backend != 'torch':
            raise ValueError(f'init_backend={init_backend!r} needs a GPU; on CPU '
                             'only init_backend="torch" (gloo) is supported')
        return init_dist_cpu(launcher, backend, **kwargs)

    init_dist.__wrapped__ = orig
    return init_dist


def _cpu_aware_ddp_init(orig):

    @functools.wraps(orig)
    def __init__(self, module, *args, **kwargs):
        params = list(module.parameters())
        if kwargs.get('device_ids') is not None and params and \
                all(p.device.type == 'cpu' for p in params):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        orig(self, module, *args, **kwargs)

    return __init__


def patch_cpu_distributed() -> None:
    """Make mmengine's distributed set-up work on CPU-only hosts (idempotent)."""
    global _ACTIVE
    if _ACTIVE:
        return
    import mmengine.dist
    import mmengine.dist.utils
    import mmengine.runner.runner
    from mmengine.model import MMDistributedDataParallel

    patched = _cpu_aware_init_dist(mmengine.dist.utils.init_dist)
    # The name is imported into several modules; replace every binding.
    for module in (mmengine.dist.utils, mmengine.dist, mmengine.runner.runner):
        module.init_dist = patched
    MMDistributedDataParallel.__init__ = _cpu_aware_ddp_init(
        MMDistributedDataParallel.__init__)
    _ACTIVE = True
