"""Run every paper config for a few iterations on generated paper-size data.

    python tools/analysis_tools/paper_scale_check.py [--device auto|cpu|cuda] \\
        [--iters N] [--test-images N] [--rows gcn-base gcn-ft10 ...] [--threads N] \\
        [--workers N] [--work-dir work_dirs/paper_scale_check]

``--iters`` / ``--test-images`` default to 2 on CUDA, 1 on the CPU (on a
2-core CPU one iteration / image per row keeps the check near 30 minutes).

Without COCO, ImageNet or pretrained weights, this checks that the paper
configs run at the papers' sizes and measures their cost:

1. Data (cached in ``WORK_DIR/data``, :mod:`mmfsod.utils.paper_scale_data`):
   a few-shot COCO stand-in in TFA's layout (80 COCO classes, 60 base / 20
   novel, images 640-1000 x 480-600, K-shot files of seed 0), an ImageNet
   stand-in in mmpretrain's layout (labels over the 1000 classes) and LSP
   patch records of its training images (the downstream setting).
2. Random weights where a config starts from a trained model (``WORK_DIR/
   checkpoints``): the GCN-FSOD base model (with support templates of the
   10-shot set in its meta), TFA's combined model, AnchorNet, the ResNet-50
   patch classifier. Every ``init_cfg`` of type ``Pretrained`` is set to None.
3. Each row of :data:`ROWS` in its own subprocess (its own peak memory; a
   failing row is reported, the others go on), through the real tools path:
   ``tools/train.py`` / ``tools/test.py`` run as scripts with ``--cfg-options``
   for the data roots, checkpoints and validation off (the command is
   printed and logged). A hook added to the runner times every iteration and
   stops training after ``--iters`` iterations (any loop type); tests run on
   the first ``--test-images`` images (``dataset.indices``). The per-GPU batch,
   input sizes, model and pipeline are the config's.

Figures per row: seconds per iteration (data wait + step, the mean over the
iterations after the first; with one iteration that one, warm-up included,
marked ``*``), peak memory (CUDA: ``torch.cuda.max_memory_allocated``; CPU:
the process's peak resident set, ``ru_maxrss``, dataloader workers not
included), test seconds per image (after the first batch where there are
several; a GCN-FSOD test computes its support templates' features, once per
test set, before the first image: counted in the setup time) and the
projected device-hours of the paper's schedule at the
measured speed: training ``iterations x s/it x GPUs / 3600`` (iterations of
an epoch-based schedule: ``epochs x ceil(items / (batch x GPUs))``), test
``images x s/img / 3600``. On a CPU these hours are CPU hours of that machine.

``--data-only`` writes the data and stops.
"""
import argparse
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, REPO)

IMAGENET_TRAIN = 1281167
IMAGENET_VAL = 50000
COCO_TEST = 5000
# LSP patches per ImageNet image in the downstream setting (K 24/10/8) at the
# paper's branch shares (section 4.3)
PATCHES_PER_IMAGE = (24 * 15050 + 10 * 18047 + 8 * 16903) / 50000

GCN = 'configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_'
TFA = 'configs/tfa/coco/'
ANC = 'configs/anchornet/imagenet/'
DOWN = ANC + 'downstream/'
# name, config, mode, checkpoint (a key of CHECKPOINTS), test/train items of the paper
ROWS = [
    dict(name='gcn-base', config=GCN + 'base-training.py', mode='train'),
    dict(name='gcn-ft10', config=GCN + '10shot-fine-tuning.py', mode='train', ckpt='gcn'),
    dict(name='gcn-test80', config=GCN + '10shot-fine-tuning.py', mode='test', ckpt='gcn',
         test_items=COCO_TEST),
    dict(name='gcn-test20', config=GCN + '10shot-fine-tuning_20way-novel-test.py',
         mode='test', ckpt='gcn', test_items=COCO_TEST),
    dict(name='tfa-base', config=TFA + 'tfa_r101_fpn_8xb2_coco_base-training.py', mode='train'),
    dict(name='tfa-cos-ft10', config=TFA + 'tfa-cos_r101_fpn_8xb2_coco_10shot-fine-tuning.py',
         mode='train', ckpt='tfa'),
    dict(name='anchornet', config=ANC + 'anchornet_8xb32_in1k.py', mode='train',
         train_items=IMAGENET_TRAIN),
    dict(name='anchornet-lsp', config=ANC + 'anchornet_8xb32_in1k_lsp-downstream.py',
         mode='test', ckpt='anchornet', test_items=IMAGENET_VAL),
    dict(name='r50-patch-ft', config=DOWN + 'resnet50_anchornet-lsp-ft_8xb32_in1k.py',
         mode='train', train_items=round(IMAGENET_TRAIN * PATCHES_PER_IMAGE)),
    dict(name='r50-patch-test', config=DOWN + 'resnet50_anchornet-lsp_in1k.py', mode='test',
         ckpt='r50-patch', test_items=IMAGENET_VAL),
]
ROW_NAMES = [r['name'] for r in ROWS]
# random checkpoints: the config whose model they hold
CHECKPOINTS = {
    'gcn': GCN + '10shot-fine-tuning.py',
    'tfa': TFA + 'tfa-cos_r101_fpn_8xb2_coco_10shot-fine-tuning.py',
    'anchornet': ANC + 'anchornet_8xb32_in1k.py',
    'r50-patch': DOWN + 'resnet50_anchornet-lsp_in1k.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--iters', type=int,
                        help='training iterations per training row (default: 2 on CUDA, '
                        '1 on the CPU)')
    parser.add_argument('--test-images', type=int,
                        help='images per test row (default: 2 on CUDA, 1 on the CPU)')
    parser.add_argument('--rows', nargs='+', choices=ROW_NAMES, default=ROW_NAMES)
    parser.add_argument('--threads', type=int,
                        help='torch threads in each row (default: torch\'s)')
    parser.add_argument('--workers', type=int,
                        help='dataloader workers (default: the config\'s)')
    parser.add_argument('--timeout', type=float, default=3600,
                        help='seconds per row before it is stopped')
    parser.add_argument('--coco-train-images', type=int, default=200)
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'paper_scale_check'))
    parser.add_argument('--data-only', action='store_true', help='write the data and stop')
    parser.add_argument('--out', help='also write the results as JSON here')
    parser.add_argument('--child', help=argparse.SUPPRESS)  # a row, as JSON
    args = parser.parse_args(argv)
    if (args.iters or 1) < 1 or (args.test_images or 1) < 1:
        parser.error('--iters and --test-images must be >= 1')
    return args


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def data_paths(work_dir: str) -> dict:
    data = osp.join(osp.abspath(work_dir), 'data')
    return dict(coco=osp.join(data, 'coco'), imagenet=osp.join(data, 'imagenet'),
                records=osp.join(data, 'lsp_patches_train.jsonl'),
                checkpoints=osp.join(osp.abspath(work_dir), 'checkpoints'))


def prepare_data(work_dir: str, coco_train_images: int, log=print) -> dict:
    """Write (or find) the generated sets; returns :func:`data_paths`."""
    from mmfsod.utils.paper_scale_data import (PaperImageNetSpec, generate_paper_coco,
                                               generate_paper_imagenet, write_lsp_records)
    paths = data_paths(work_dir)
    start = time.time()
    status = generate_paper_coco(paths['coco'], num_train=coco_train_images)
    log(f'[data] COCO stand-in {status}: {paths["coco"]} ({time.time() - start:.1f} s)')
    start = time.time()
    spec = PaperImageNetSpec()
    status = generate_paper_imagenet(paths['imagenet'], spec)
    log(f'[data] ImageNet stand-in {status}: {paths["imagenet"]} ({time.time() - start:.1f} s)')
    if not osp.isfile(paths['records']):
        with open(osp.join(paths['imagenet'], 'meta', 'train.txt')) as f:
            images = [(osp.join(paths['imagenet'], 'train', line.split()[0]),
                       int(line.split()[1])) for line in f if line.strip()]
        tmp = paths['records'] + '.tmp'
        n = write_lsp_records(tmp, images)
        os.replace(tmp, paths['records'])
        log(f'[data] LSP records of {len(images)} training images ({n} patches): '
            f'{paths["records"]}')
    return paths


# --------------------------------------------------------------------------
# overrides (computed in the row's process from the loaded config)
# --------------------------------------------------------------------------
def _walk(node, prefix=''):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f'{prefix}{k}.')
        yield prefix[:-1], node
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f'{prefix}{i}.')
    else:
        yield prefix[:-1], node


def compute_overrides(cfg, row: dict, paths: dict, args) -> dict:
    """``--cfg-options`` of a row: data roots, no pretrained weights, random
    checkpoints, validation off (training), ``--test-images``, workers."""
    roots = (('data/coco', paths['coco']), ('data/imagenet', paths['imagenet']))
    train = row['mode'] == 'train'
    skip = ('val_dataloader', 'val_evaluator', 'val_cfg') if train else ()
    out = {}
    for key, value in _walk(cfg._cfg_dict.to_dict()):
        if not key or key.split('.')[0] in skip:
            continue
        if isinstance(value, str):
            for old, new in roots:
                if value == old or value.startswith(old + '/'):
                    out[key] = new + value[len(old):]
        elif isinstance(value, dict) and isinstance(value.get('init_cfg'), dict) \
                and value['init_cfg'].get('type') == 'Pretrained':
            out[f'{key}.init_cfg' if key else 'init_cfg'] = None
    ckpts = paths['checkpoints']
    out['load_from'] = (osp.join(ckpts, row['ckpt'] + '.pth')
                        if train and row.get('ckpt') else None)
    if 'localizer_checkpoint' in cfg.get('model', {}) and cfg.model.localizer_checkpoint:
        out['model.localizer_checkpoint'] = osp.join(ckpts, 'anchornet.pth')
    if cfg.get('train_dataloader', {}).get('dataset', {}).get('type') == 'LSPPatchDataset':
        out['train_dataloader.dataset.ann_file'] = paths['records']
    if train:
        out.update(val_dataloader=None, val_evaluator=None, val_cfg=None)
        if 'auto_scale_lr' in cfg:
            # one process runs the paper's batch per GPU (tools/train.py would
            # otherwise put the paper's total batch on it)
            out['auto_scale_lr.keep_total_batch'] = False
        out['default_hooks.checkpoint.interval'] = 10 ** 9
    else:
        out['test_dataloader.dataset.indices'] = args.test_images
    out['default_hooks.logger.interval'] = 1
    if args.workers is not None:
        for loader in ('train_dataloader', 'test_dataloader') if train else ('test_dataloader',):
            if cfg.get(loader) is not None:
                out[f'{loader}.num_workers'] = args.workers
                out[f'{loader}.persistent_workers'] = args.workers > 0
    return out


def _option(key, value) -> str:
    return f'{key}={value}'


# --------------------------------------------------------------------------
# the row's process
# --------------------------------------------------------------------------
class _Stop(Exception):
    """Raised by the measuring hook after ``--iters`` training iterations."""


def _sync():
    import torch
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_bytes() -> int:
    import resource

    import torch
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _batch_len(data_batch) -> int:
    """Items (queries, images, patches) in a training batch."""
    if isinstance(data_batch, dict):
        for key in ('data_samples', 'inputs'):
            value = data_batch.get(key)
            if isinstance(value, (list, tuple)):
                return len(value)
            if hasattr(value, 'shape'):
                return int(value.shape[0])
    return -1


def make_measure_hook(result: dict, iters: int):
    from mmengine.hooks import Hook

    class MeasureHook(Hook):
        """Times iterations; stops training after ``iters`` of them."""
        priority = 'LOWEST'

        def _mark(self):
            _sync()
            return time.perf_counter()

        def before_train(self, runner):
            self.last = self._mark()
            result['setup_s'] = self.last - result['t0']

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.start = self._mark()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            now = self._mark()
            result['batch_seen'].append(_batch_len(data_batch))
            result['iter_s'].append(now - self.last)
            result['step_s'].append(now - self.start)
            self.last = now
            print(f'[measure] iteration {len(result["iter_s"])}: {result["iter_s"][-1]:.2f} s',
                  flush=True)
            if len(result['iter_s']) >= iters:
                result['peak_bytes'] = _peak_bytes()
                raise _Stop()

        def before_test_epoch(self, runner):
            start = self._mark()
            model = getattr(runner.model, 'module', runner.model)
            if hasattr(model, '_class_feats'):
                # GCN-FSOD: the support templates' features (computed once per
                # test set, cached) apart from the per-image time
                model._class_feats()
            self.last = self._mark()
            result['template_s'] = self.last - start
            result['setup_s'] = self.last - result['t0']

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            now = self._mark()
            result['test_batch_s'].append(now - self.last)
            result['test_batch_n'].append(len(outputs) if outputs is not None else 1)
            self.last = now
            print(f'[measure] test batch {len(result["test_batch_s"])}: '
                  f'{result["test_batch_s"][-1]:.2f} s', flush=True)

        def after_test_epoch(self, runner, metrics=None):
            result['peak_bytes'] = _peak_bytes()

    return MeasureHook()


def schedule_iters(cfg, row: dict, gpus: int):
    """Iterations of the paper's schedule per GPU, or None."""
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('max_iters'):
        return int(train_cfg['max_iters'])
    if train_cfg.get('max_epochs') and row.get('train_items'):
        batch = cfg.train_dataloader.batch_size
        return int(train_cfg['max_epochs']) * math.ceil(row['train_items'] / (batch * gpus))
    return None


def run_child(row: dict, args) -> int:
    """Run one row in this process; writes ``row['result_file']``."""
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    import runpy

    from mmengine.config import Config
    from mmengine.runner import Runner
    result = dict(t0=time.perf_counter(), iter_s=[], step_s=[], batch_seen=[],
                  test_batch_s=[], test_batch_n=[])
    paths = data_paths(args.work_dir)
    cfg = Config.fromfile(osp.join(REPO, row['config']))
    overrides = compute_overrides(cfg, row, paths, args)
    gpus = int(re.search(r'(\d+)xb\d+', row['config']).group(1)) \
        if re.search(r'(\d+)xb\d+', row['config']) else 1
    result.update(gpus=gpus, schedule_iters=schedule_iters(cfg, row, gpus),
                  batch=(cfg.train_dataloader.batch_size if row['mode'] == 'train'
                         else cfg.test_dataloader.batch_size))
    work_dir = osp.join(osp.abspath(args.work_dir), 'runs', row['name'])
    tool = 'tools/train.py' if row['mode'] == 'train' else 'tools/test.py'
    argv = [tool, row['config']]
    if row['mode'] == 'test':
        argv.append(osp.join(paths['checkpoints'], row['ckpt'] + '.pth'))
    argv += ['--work-dir', work_dir, '--cfg-options'] + [
        _option(k, v) for k, v in overrides.items()]
    print('[command] python ' + ' '.join(argv), flush=True)

    hook = make_measure_hook(result, args.iters)
    original = Runner.register_hooks

    def register_hooks(self, default_hooks=None, custom_hooks=None):
        original(self, default_hooks, custom_hooks)
        self.register_hook(hook)

    Runner.register_hooks = register_hooks
    sys.argv = argv
    os.chdir(REPO)
    status = 'ok'
    try:
        runpy.run_path(osp.join(REPO, tool), run_name='__main__')
    except _Stop:
        pass
    except SystemExit as exc:
        status = f'exit {exc.code}'
    result.pop('t0')
    result['status'] = status
    with open(row['result_file'], 'w') as f:
        json.dump(result, f)
    return 0 if status == 'ok' else 1


def make_checkpoint(key: str, args) -> None:
    """A randomly initialised checkpoint of ``CHECKPOINTS[key]``'s model
    (GCN-FSOD: with the 10-shot set's support templates in its meta)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    paths = data_paths(args.work_dir)
    row = dict(mode='test', ckpt=key)
    cfg = Config.fromfile(osp.join(REPO, CHECKPOINTS[key]))
    cfg.merge_from_dict(compute_overrides(cfg, row, paths, args))
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import DATASETS, MODELS
    else:
        from mmpretrain.registry import DATASETS, MODELS
    os.chdir(REPO)  # the patch classifier's localizer config is repository-relative
    torch.manual_seed(0)
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner does
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = dict(note='random weights (tools/analysis_tools/paper_scale_check.py)')
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') == 'SupportTemplateHook']
    if hooks:
        from mmfsod.detection.datasets.support_templates import select_support_templates
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        meta['support_templates'] = select_support_templates(
            dataset, hooks[0].get('num_shots'), seed=hooks[0].get('seed', 0))
    os.makedirs(paths['checkpoints'], exist_ok=True)
    out = osp.join(paths['checkpoints'], key + '.pth')
    torch.save(dict(meta=meta, state_dict=model.state_dict()), out + '.tmp')
    os.replace(out + '.tmp', out)


# --------------------------------------------------------------------------
# the parent: rows in subprocesses, the table
# --------------------------------------------------------------------------
def _subprocess(payload: dict, args, log_file: str) -> tuple:
    env = dict(os.environ, PYTHONUNBUFFERED='1')  # the row's log as it goes
    if args.device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    cmd = [sys.executable, osp.abspath(__file__), '--child', json.dumps(payload),
           '--work-dir', args.work_dir, '--iters', str(args.iters),
           '--test-images', str(args.test_images)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.workers is not None:
        cmd += ['--workers', str(args.workers)]
    start = time.time()
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=REPO)
        tail = []
        try:
            for line in proc.stdout:
                log.write(line)
                tail = (tail + [line.rstrip()])[-15:]
                if line.startswith(('[measure]', '[command]', 'error')):
                    print('    ' + line.rstrip()[:300], flush=True)
                if time.time() - start > args.timeout:
                    proc.kill()
                    break
            rc = proc.wait(timeout=60)
        except BaseException:
            proc.kill()
            raise
    return rc, time.time() - start, tail


def _fmt_result(row: dict, res: dict) -> dict:
    """Table cells of one row's result."""
    status = res.get('status', 'failed')
    cells = dict(row=row['name'], status=status if len(status) < 100 else status[:97] + '...')
    its = res.get('iter_s') or []
    if its:
        measured = its[1:] if len(its) > 1 else its
        s_it = sum(measured) / len(measured)
        cells['s/it'] = f'{s_it:.2f}' + ('' if len(its) > 1 else '*')
        if res.get('schedule_iters'):
            hours = res['schedule_iters'] * s_it * res['gpus'] / 3600
            cells['proj. h'] = f'{hours:,.0f} ({res["schedule_iters"]:,} it x {res["gpus"]})'
    batches, sizes = res.get('test_batch_s') or [], res.get('test_batch_n') or []
    if batches:
        cells['test imgs'] = str(sum(sizes))
        if len(batches) > 1:
            s_img = sum(batches[1:]) / max(1, sum(sizes[1:]))
            cells['test s/img'] = f'{s_img:.2f}'
        else:
            s_img = batches[0] / max(1, sizes[0])
            cells['test s/img'] = f'{s_img:.2f}*'
        if row.get('test_items'):
            items = row['test_items']
            cells['proj. h'] = f'{items * s_img / 3600:,.1f} ({items:,} img)'
    if res.get('setup_s') is not None:
        cells['setup s'] = f'{res["setup_s"]:.0f}'
        if res.get('template_s', 0) >= 0.5:
            cells['setup s'] += f' (templates {res["template_s"]:.0f})'
    if res.get('peak_bytes'):
        cells['peak GiB'] = f'{res["peak_bytes"] / 2 ** 30:.2f}'
    if res.get('batch_seen'):
        cells['batch/GPU'] = '/'.join(str(b) for b in sorted(set(res['batch_seen'])))
    elif res.get('batch'):
        cells['batch/GPU'] = str(res['batch'])
    return cells


def print_table(cells: list, device: str, args) -> None:
    cols = ['row', 'batch/GPU', 's/it', 'test imgs', 'test s/img', 'peak GiB', 'proj. h',
            'setup s', 'wall s', 'status']
    widths = {c: max(len(c), *(len(str(r.get(c, '-'))) for r in cells)) for c in cols}
    print(f'\n== paper-scale check on {device}, {args.iters} training iteration(s), '
          f'{args.test_images} test image(s); threads {args.threads or "torch default"}')
    print('s/it: data wait + step, mean after the first iteration (* = the only one, '
          'warm-up included); test s/img after the first batch (* = one batch only);')
    print('peak: CUDA max_memory_allocated / CPU peak RSS of the row\'s process; proj. h = '
          'iterations x s/it x GPUs / 3600 (training), images x s/img / 3600 (test);')
    print('setup s: process start to the first iteration (model, checkpoint, dataset, '
          'GCN-FSOD support templates\' features); wall s: the whole row')
    print('  '.join(c.ljust(widths[c]) for c in cols))
    for r in cells:
        print('  '.join(str(r.get(c, '-')).ljust(widths[c]) for c in cols))
    total = sum(float(r.get('wall s', 0)) for r in cells)
    print(f'total wall time of the rows: {total:.0f} s ({total / 60:.1f} min)')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        payload = json.loads(args.child)
        if 'checkpoint' in payload:
            make_checkpoint(payload['checkpoint'], args)
            return 0
        return run_child(payload, args)
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    device = ('cuda' if torch.cuda.is_available() and args.device != 'cpu' else 'cpu')
    device_name = torch.cuda.get_device_name(0) if device == 'cuda' else \
        f'cpu ({os.cpu_count()} cores)'
    # on a 2-core CPU one iteration / image per row keeps the whole check
    # under about 30 minutes
    default = 2 if device == 'cuda' else 1
    args.iters = args.iters or default
    args.test_images = args.test_images or default
    args.work_dir = osp.abspath(args.work_dir)
    paths = prepare_data(args.work_dir, args.coco_train_images,
                         log=lambda m: print(m, flush=True))
    if args.data_only:
        return 0
    logs = osp.join(args.work_dir, 'logs')
    os.makedirs(logs, exist_ok=True)
    rows = [r for r in ROWS if r['name'] in args.rows]
    failed_ckpts = {}
    for key in sorted({r['ckpt'] for r in rows if r.get('ckpt')}):
        if osp.isfile(osp.join(paths['checkpoints'], key + '.pth')):
            continue
        print(f'[checkpoint] random {key} model ({CHECKPOINTS[key]})', flush=True)
        rc, wall, tail = _subprocess(dict(checkpoint=key), args,
                                     osp.join(logs, f'checkpoint_{key}.log'))
        if rc != 0:
            failed_ckpts[key] = tail[-1] if tail else f'exit {rc}'
            print(f'    failed: {failed_ckpts[key]}', flush=True)
    cells, results = [], {}
    for i, row in enumerate(rows, 1):
        print(f'[{i}/{len(rows)}] {row["name"]}: {row["mode"]} {row["config"]}', flush=True)
        result_file = osp.join(logs, row['name'] + '.json')
        if osp.exists(result_file):
            os.remove(result_file)
        if row.get('ckpt') in failed_ckpts:
            res = dict(status='no checkpoint: ' + failed_ckpts[row['ckpt']])
            wall = 0.0
        else:
            rc, wall, tail = _subprocess(dict(row, result_file=result_file), args,
                                         osp.join(logs, row['name'] + '.log'))
            if osp.isfile(result_file):
                with open(result_file) as f:
                    res = json.load(f)
            else:
                res = dict(status=f'failed (exit {rc}): ' + (tail[-1][:120] if tail else ''))
        cell = _fmt_result(row, res)
        cell['wall s'] = f'{wall:.0f}'
        cells.append(cell)
        results[row['name']] = dict(res, config=row['config'], wall_s=wall)
        print(f'    -> {cell}', flush=True)
    print_table(cells, device_name, args)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=device_name, iters=args.iters, test_images=args.test_images,
                           threads=args.threads, rows=results), f, indent=1)
    return 0 if all(c['status'] == 'ok' for c in cells) else 1


if __name__ == '__main__':
    sys.exit(main())
