"""What the toy benchmark scripts share: running tools/train.py and
tools/test.py as subprocesses (log kept, wall time measured), a base
training and a fine-tuning + test kept as json (a finished run is not run
again), reading their figures, and mean ± std cells."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

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


def load_json(path: str):
    """The json at ``path``, or None when there is none (a run not done)."""
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    return None


def save_json(path: str, data) -> None:
    """``data`` as json at ``path``, written atomically (folders made)."""
    from mmfsod.compat.atomic import atomic_open
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with atomic_open(path, 'w') as f:
        json.dump(data, f, indent=1)


def base_model(root: str, method: dict, options: Sequence[str], iters=None,
               checkpoint: str = None) -> dict:
    """``{'checkpoint', 'train_s'}`` of a method's base model under ``root``
    (kept in ``root/base.json``: a finished run is not run again).

    ``method`` has ``base`` (the base-training config), ``ft`` (the
    fine-tuning config) and ``surgery`` (a ``ckpt_surgery.py`` mode, or None);
    ``checkpoint``, a base model trained before, replaces the training
    (``train_s`` None).
    """
    done = osp.join(root, 'base.json')
    result = load_json(done)
    if result is not None:
        return result
    py, seconds = python(), None
    if checkpoint is None:
        base_dir = osp.join(root, 'base')
        _, seconds = run([py, 'tools/train.py', method['base'], '--work-dir', base_dir]
                         + cfg_options(list(options) + schedule(iters)),
                         osp.join(root, 'base.log'))
        checkpoint = last_checkpoint(base_dir)
    if method['surgery']:
        out = osp.join(root, f'base_{method["surgery"]}.pth')
        run([py, 'tools/misc/ckpt_surgery.py', method['surgery'], checkpoint, '--config',
             method['ft'], '--out', out], osp.join(root, 'surgery.log'))
        checkpoint = out
    result = dict(checkpoint=checkpoint, train_s=seconds)
    save_json(done, result)
    return result


def fine_tune_and_test(root: str, method: dict, base: dict, options: Sequence[str],
                       iters, metrics: Callable[[str, str], Dict[str, float]]) -> dict:
    """``{'metrics', 'train_s', 'test_s'}`` of one fine-tuning from
    ``base['checkpoint']`` and its test, under ``root`` (kept in
    ``root/result.json``). ``options`` (the seed's among them) go to both
    runs, so that the test's config is the training's; ``metrics`` reads the
    figures from the test output."""
    done = osp.join(root, 'result.json')
    result = load_json(done)
    if result is not None:
        return result
    py, options = python(), list(options)
    ft_dir = osp.join(root, 'fine-tuning')
    _, train_s = run([py, 'tools/train.py', method['ft'], '--work-dir', ft_dir,
                      '--cfg-options'] + options + schedule(iters)
                     + [f'load_from={base["checkpoint"]}'], osp.join(root, 'fine-tuning.log'))
    ckpt = last_checkpoint(ft_dir)
    out, test_s = run([py, 'tools/test.py', method['ft'], ckpt, '--work-dir',
                       osp.join(root, 'test'), '--cfg-options'] + options,
                      osp.join(root, 'test.log'))
    result = dict(metrics=metrics(out, ckpt), train_s=train_s, test_s=test_s)
    save_json(done, result)
    return result
