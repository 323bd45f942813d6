"""What the toy benchmark scripts share: running tools/train.py and
tools/test.py as subprocesses (log kept, wall time measured), reading their
figures, and mean ± std cells."""
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
# coco/<group>/bbox_<figure>: value, as FewShotCocoMetric logs them
METRIC = re.compile(r'(coco/(?:novel|base|all)/bbox_(?:mAP|mAP_50|AR@100)): (-?[0-9.]+)')


def run(cmd: List[str], log: str) -> Tuple[str, float]:
    """Run ``cmd`` in the repository; its output goes to ``log``. Returns
    the output and the wall time in seconds; a failure raises, naming the
    log."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join([REPO] + [p for p in [env.get('PYTHONPATH')] if p])
    print('+', ' '.join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    os.makedirs(osp.dirname(osp.abspath(log)), exist_ok=True)
    with open(log, 'w') as f:
        f.write(proc.stdout)
    if proc.returncode:
        raise RuntimeError(f'{cmd[1]} failed (exit {proc.returncode}), log {log}:\n'
                           + proc.stdout[-3000:])
    return proc.stdout, seconds


def cfg_options(options: Sequence[str]) -> List[str]:
    """``--cfg-options`` and the options, or nothing when there are none
    (the tools refuse an empty ``--cfg-options``)."""
    return ['--cfg-options'] + list(options) if options else []


def python() -> str:
    return sys.executable


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def schedule(iters) -> List[str]:
    """Options giving a config ``iters`` iterations, or none (the config's
    lr milestones stay: a shorter run is for checking a script)."""
    if not iters:
        return []
    return [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}']


def test_metrics(out: str, what: str) -> Dict[str, float]:
    """The last figures of each key in a tools/test.py output."""
    found = dict((k, float(v)) for k, v in METRIC.findall(out))
    if not found:
        raise RuntimeError(f'no coco/<group>/bbox_* figures in the test output of {what}')
    return found


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± std`` (population std) of the values, '–' if none."""
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    return f'{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}'
