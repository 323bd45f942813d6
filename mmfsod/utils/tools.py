"""What ``tools/train.py`` and ``tools/test.py`` share: config loading and the
command-line overrides, the same way for mmdet and mmpretrain configs."""
import argparse
import copy
import logging
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmfsod  # noqa: F401  (activates mmfsod.compat before any config runs)
from mmfsod.utils.config_derived import resolve_derived, stale_copies


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The options train.py and test.py share, with mmdet's spelling."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs in xxx=yyy format; '
        'a list is written as key="[a,b]" or key=a,b, nested lists/tuples as '
        'key="[(a,b),(c,d)]" (no white space inside the quotes)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local_rank (older) / --local-rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--debug', action='store_true',
        help='show the traceback of a data, config, damaged checkpoint or image '
        f'error (also with the environment variable {DEBUG_ENV}=1); by default one line')


DEBUG_ENV = 'MMFSOD_DEBUG'


def _file_errors() -> tuple:
    from mmfsod.compat import CorruptCheckpointError, UnsafeCheckpointError
    from mmfsod.utils.bad_images import BadImageError
    return CorruptCheckpointError, UnsafeCheckpointError, BadImageError


def _one_line(exc: BaseException) -> str:
    """The message of ``exc``; an error re-raised from a dataloader worker
    carries the worker's traceback in its message: its last line."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = text.strip()
    if 'Original Traceback' in text:
        text = text.splitlines()[-1]
        text = text.split(': ', 1)[1] if ': ' in text else text
    return ' '.join(text.split())


# Errors of these types raised in these files (or, re-raised from a
# dataloader worker, in the worker there) are data or config errors: the
# datasets, evaluators and config handling of the project, mmengine's
# config and registry (an unknown type, a wrong argument) and datasets.
DATA_ERROR_TYPES = (FileNotFoundError, ValueError, KeyError, TypeError)
DATA_ERROR_SOURCES = (
    'mmfsod/detection/datasets/', 'mmfsod/classification/datasets/',
    'mmfsod/detection/evaluation/', 'mmfsod/classification/evaluation/',
    'mmfsod/utils/', 'mmfsod/compat/package_configs.py', 'mmengine/config/',
    'mmengine/registry/build_functions.py', 'mmengine/dataset/', 'mmdet/datasets/',
    'mmpretrain/datasets/', 'tools/')


def _raised_in(exc: BaseException) -> Optional[str]:
    """The file ``exc`` was raised in: the innermost frame of its traceback,
    or of the worker's traceback quoted in its message."""
    import re
    text = str(exc)
    if 'Original Traceback' in text:
        files = re.findall(r'File "([^"]+)", line \d+', text)
        return files[-1] if files else None
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an error of the data or the config (see
    ``DATA_ERROR_SOURCES``), told in one line by :func:`run_main`."""
    if not isinstance(exc, DATA_ERROR_TYPES):
        return False
    path = (_raised_in(exc) or '').replace(os.sep, '/')
    return any('/' + src in path for src in DATA_ERROR_SOURCES)


def error_line(exc: BaseException, data_hint: bool = False) -> str:
    """``error: <type>: <message in one line>`` (with the rank in a
    multi-process run); with ``data_hint``, how to see more."""
    rank = os.environ.get('RANK')
    where = f' (rank {rank})' if rank is not None and \
        os.environ.get('WORLD_SIZE', '1') != '1' else ''
    hint = (' [--debug shows the traceback; for the data files, '
            'tools/misc/check_dataset.py CONFIG lists every problem]') if data_hint else ''
    return f'error{where}: {type(exc).__name__}: {_one_line(exc)}{hint}'


def run_main(main, argv: Optional[List[str]] = None) -> None:
    """Run a tool's ``main``: a damaged or refused checkpoint, a bad image and
    an error of the data or the config (a class not in the json, a missing
    annotation or K-shot file, an unknown type, :func:`is_data_error`) end the
    process with one line on stderr naming the file (and class or key) and
    exit code 1 (the traceback with ``--debug`` or ``MMFSOD_DEBUG=1``)."""
    import sys
    debug = '--debug' in (sys.argv[1:] if argv is None else argv) or \
        os.environ.get(DEBUG_ENV, '') not in ('', '0')
    try:
        main(argv)
    except _file_errors() as exc:
        if debug:
            raise
        print(error_line(exc), file=sys.stderr, flush=True)
        sys.exit(1)
    except DATA_ERROR_TYPES as exc:
        if debug or not is_data_error(exc):
            raise
        print(error_line(exc, data_hint=True), file=sys.stderr, flush=True)
        sys.exit(1)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[List[str]] = None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str, cfg_options: Optional[dict] = None,
                launcher: str = 'none') -> Config:
    """Read ``path`` (importing its ``custom_imports``), apply
    ``--cfg-options``, then resolve the ``'${key}'`` references of derived
    fields (:mod:`mmfsod.utils.config_derived`); an override of a top-level
    key whose old value other fields copied is a warning naming them."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg.get('default_scope') not in ('mmdet', 'mmpretrain'):
        raise KeyError(f'{path}: default_scope must be "mmdet" or "mmpretrain", got '
                       f'{cfg.get("default_scope")!r}; inherit a configs/_base_/'
                       'default_runtime_*.py')
    cfg.launcher = launcher
    # top-level settings a config without '${key}' references copied when
    # it was read: warn about the copies an override leaves behind
    old = {k: copy.deepcopy(cfg[k]) for k in (cfg_options or {}) if '.' not in k and k in cfg}
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    resolve_derived(cfg)
    for key, fields in stale_copies(cfg, old).items():
        shown = ', '.join(fields[:8]) + (f' and {len(fields) - 8} more' if len(fields) > 8 else '')
        print_log(f'{path}: --cfg-options {key}=... leaves {shown} on the old value '
                  f'{old[key]!r} (copied when the config was read); set those fields too',
                  logger='current', level=logging.WARNING)
    return cfg


def setup_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> None:
    """Command line > config > ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def apply_amp(cfg: Config) -> None:
    """Switch ``optim_wrapper`` to mixed precision (``--amp``)."""
    from mmengine.device import is_cuda_available, is_mlu_available, is_npu_available
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current')
        return
    if wrapper != 'OptimWrapper':
        raise ValueError(f'--amp is only supported with optim_wrapper type '
                         f'"OptimWrapper", got {wrapper!r}')
    if not (is_cuda_available() or is_npu_available() or is_mlu_available()):
        raise RuntimeError('--amp needs a GPU (or NPU/MLU): mmengine\'s '
                           'AmpOptimWrapper does not run on the CPU')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def apply_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the work dir's latest checkpoint;
    ``--resume CKPT`` from that file."""
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume) and '://' not in resume:
            raise FileNotFoundError(f'--resume: checkpoint {resume!r} does not exist')
        cfg.resume = True
        cfg.load_from = resume


def apply_show(cfg: Config, show: bool, show_dir: Optional[str],
               wait_time: float) -> None:
    """Turn on the visualisation hook for ``--show`` / ``--show-dir``."""
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise KeyError('--show / --show-dir need `default_hooks.visualization` in the '
                       'config (inherit a configs/_base_/default_runtime_*.py)')
    vis = hooks.visualization
    vis.show = show
    vis.wait_time = wait_time
    if cfg.default_scope == 'mmdet':
        vis.draw = True
        vis.test_out_dir = show_dir
    else:  # mmpretrain's VisualizationHook
        vis.enable = True
        vis.out_dir = show_dir


class MMEngineAliasFilter(logging.Filter):
    """Drops mmengine's notices that its own ``CheckpointHook`` triggers in
    every run (it builds a ``FileClient`` in ``before_train``, whatever the
    config says): ``"FileClient" will be deprecated ...`` and ``"HardDiskBackend"
    is the alias of "LocalBackend" ...``. Nothing a user can change; every other
    record passes."""

    NOTICES = ('"FileClient" will be deprecated in future',
               '"HardDiskBackend" is the alias of "LocalBackend"')

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not any(msg.startswith(notice) for notice in self.NOTICES)


def build_runner(cfg: Config) -> Runner:
    """The config's runner (mmengine's ``Runner`` unless ``runner_type``), its
    logger without mmengine's harmless alias notices (:class:`MMEngineAliasFilter`)."""
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    if not any(isinstance(f, MMEngineAliasFilter) for f in runner.logger.filters):
        runner.logger.addFilter(MMEngineAliasFilter())
    return runner
