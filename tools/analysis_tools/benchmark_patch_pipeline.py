"""Cost of classifying from semantic patches vs the full image, per image, on
this machine, in one run (paper Table 3; the paper counts FLOPs only and
leaves AnchorNet out).

    python tools/analysis_tools/benchmark_patch_pipeline.py \\
        PATCH_CONFIG PATCH_CKPT FULL_CONFIG FULL_CKPT [CONFIG CKPT ...] \\
        [--num-images 60] [--warmup 5] [--threads N] [--device auto] [--out table.json] \\
        [--backends pytorch onnxruntime|openvino|best] [--onnx-dir DIR]

Every ``CONFIG CKPT`` pair is one row: a ``PatchClassifier`` config in any
mode (``localize``, ``rescale`` or ``full``) and the checkpoint loaded into it
(a PatchClassifier checkpoint or a plain classifier checkpoint; ``none``
keeps the initial weights). All rows classify the same first ``--num-images``
images of their config's test set, one image at a time (batch 1), on
``--device`` (default ``auto``: CUDA if visible, else the CPU). Per row:

* MACs per image (mean), as the model counts them with mmengine's
  ``FlopAnalyzer``: AnchorNet, the classifier (``n`` patches x its cost at the
  patch size), their total, and the total relative to the first ``full`` row;
* wall time per image (median over the images, after ``--warmup`` untimed
  images and one untimed classifier forward per possible patch batch shape;
  data loading and normalisation excluded): the classifier's forward
  (timed by hooks around it), everything else of the prediction (AnchorNet,
  the decision, LSP and the crops) and the total;
* top-1 accuracy (%) and the mean number of patches over those images.

Every model is made faster first as ``--paper-operating-point`` does
(``optimize_for_inference``: BN folded, unused test-time work skipped, then
``--compile jit`` by default after the MACs are counted); ``--no-optimize``
measures the models as built.

Engines (``--backends``, default ``pytorch``; ``_engine_rows.py``): every
row again with the classifier in ONNX Runtime or OpenVINO (``best``: the
first installed), named ``<run> (<engine>)``: the row's checkpoint's
classifier is exported to ONNX (``--onnx-dir``, default a temporary
directory; checked against PyTorch to 1e-4 in that engine) and the config
is built with ``model.backend`` and ``model.backend_cfg.onnx_file``: what
``PatchClassifier`` runs in an engine runs there (see its ``backend``), LSP,
the crops and the MACs (PyTorch's counts) are unchanged; engines run on the
CPU.
The engine rows come after the PyTorch rows, ``MACs / full`` and ``time /
full`` are against the full row of the same backend, the column ``preds =
PyTorch`` counts the images whose prediction equals the PyTorch row's, and
one line per engine sums it: ``<engine>: predictions equal PyTorch's on E of
N images (R rows); top-1 equal in every row``. An engine that is not
installed is one line, and the other rows still print.

The paper's operating point at ImageNet geometry (random weights, no data):

    python tools/analysis_tools/benchmark_patch_pipeline.py --paper-operating-point \\
        --arch {resnet50,resnext50,densenet169} [--num-images 100] [--warmup 5] \\
        [--threads 2] [--no-optimize] [--channels-last] [--compile jit] \\
        [--backend {pytorch,onnxruntime,openvino}] [--anchornet-in-pytorch]

(``--threads`` defaults to 2 in this mode); see ``_paper_operating_point.py``.
Its last two lines: ``paper operating point (<arch>): MACs ratio R, CPU time
ratio T`` (T against the full image in the same ``--backend``) and
``versus PyTorch full image: T`` (against PyTorch's best full image, BN
folded and traced, timed in the same run).
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import mmfsod  # noqa: E402,F401  (compat: checkpoints on torch >= 2.6)
from mmfsod.classification.apis.early_exit_calibration import \
    load_patch_classifier  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import _engine_rows as engine_rows  # noqa: E402
import _paper_operating_point as paper_point  # noqa: E402

from mmfsod.utils.device import add_device_arg, is_cuda, resolve_device  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='*', metavar='CONFIG CKPT',
                        help='pairs of a PatchClassifier config and its checkpoint '
                        '("none": initial weights)')
    parser.add_argument('--num-images', type=int, default=None,
                        help='first images of the test set, timed (default 60; '
                        '100 with --paper-operating-point)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed predictions first (of the first timed images)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default; 2 with '
                        '--paper-operating-point)')
    add_device_arg(parser, default=None, help='Default auto; cpu with '
                   '--paper-operating-point (a CPU measurement).')
    parser.add_argument('--out', help='also write the table as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config')
    paper_point.add_arguments(parser)
    engine_rows.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.num_images is None:
        args.num_images = 100 if args.paper_operating_point else 60
    if args.paper_operating_point:
        if args.runs:
            parser.error('--paper-operating-point takes no CONFIG CKPT pairs, got '
                         f'{args.runs}')
        if args.device not in (None, 'cpu'):
            parser.error('--paper-operating-point measures the CPU only')
        args.device = 'cpu'
        if args.backends != ['pytorch'] or args.onnx_dir:
            parser.error('--backends / --onnx-dir are for CONFIG CKPT rows; '
                         '--paper-operating-point takes --backend')
    elif not args.runs:
        parser.error('give CONFIG CKPT pairs (or --paper-operating-point)')
    elif args.backend != 'pytorch':
        parser.error(f'--backend {args.backend} is for --paper-operating-point; CONFIG '
                     f'CKPT rows take --backends pytorch {args.backend}')
    if args.device is None:
        args.device = resolve_device('auto')
    if len(args.runs) % 2:
        parser.error(f'runs must be CONFIG CKPT pairs, got {len(args.runs)} values')
    if args.num_images < 1 or args.warmup < 0:
        parser.error('--num-images must be >= 1 and --warmup >= 0')
    return args


def build_model(config: str, checkpoint: str, cfg_options, device: str):
    """The config's PatchClassifier with the checkpoint loaded, in eval mode
    (:func:`load_patch_classifier`), and its test dataset."""
    model, cfg = load_patch_classifier(config, checkpoint, cfg_options, device)
    from mmpretrain.registry import DATASETS
    return model, DATASETS.build(cfg.test_dataloader.dataset)


class ForwardTimer:
    """Wall time of every forward of a module (pre/post hooks)."""

    def __init__(self, module, device):
        self.device = device
        self.total = 0.0
        self._start = None
        self._handles = [module.register_forward_pre_hook(self._pre),
                         module.register_forward_hook(self._post)]

    def _sync(self):
        if is_cuda(self.device):
            torch.cuda.synchronize(self.device)

    def _pre(self, module, args):
        self._sync()
        self._start = time.perf_counter()

    def _post(self, module, args, output):
        self._sync()
        self.total += time.perf_counter() - self._start

    def wrap(self, owner, name: str):
        """Also time every call of ``owner.<name>`` (a method), e.g. the
        classifier's engine when ``model.backend`` is not PyTorch (the
        classifier module does not run then)."""
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            self._pre(None, args)
            out = method(*args, **kwargs)
            self._post(None, args, out)
            return out

        setattr(owner, name, timed)
        self._wrapped = (owner, name)

    def remove(self):
        for handle in self._handles:
            handle.remove()
        owner, name = getattr(self, '_wrapped', (None, None))
        if owner is not None:
            delattr(owner, name)  # the method again


def warm_classifier_shapes(model, input_size, channels, device):
    """Run the classifier once on every batch shape the pipeline can give it
    (``n`` patches of every branch size, ``n`` up to the LSP limit), untimed:
    the CPU convolution backend prepares its kernels per input shape."""
    if model.mode == 'full' or model.localizer is None:
        return
    for name, geo in model.geometry(input_size).items():
        if model.mode == 'rescale':
            most = 1
        else:
            most = model.lsp_setting[name]['k_max']
            if model.max_patches is not None:
                most = min(most, model.max_patches)
        for n in range(1, most + 1):
            with torch.no_grad():  # the PyTorch classifier or its engine
                model._logits(torch.zeros(n, channels, geo.rf, geo.rf, device=device))


def benchmark(model, dataset, indices, warmup_indices, device, compile_mode='none',
              channels_last=False):
    """Predict every image of ``indices`` alone; return per-image records.
    ``compile_mode`` (``'jit'``, ``'inductor'``) compiles the backbones after
    the MACs are counted, before any timing."""
    # the MAC counts trace the models: make them before any timing
    first = model.data_preprocessor(pseudo_collate([dataset[indices[0]]]), False)
    H, W = first['inputs'].shape[-2:]
    channels = first['inputs'].shape[1]
    if model.localizer is not None:
        model.macs('localizer', (H, W), channels)
        for geo in model.geometry((H, W)).values():
            model.macs('classifier', (geo.rf, geo.rf), channels)
    model.macs('classifier', (H, W), channels)
    if compile_mode != 'none':
        from mmfsod.classification.models.utils import optimize_for_inference
        start = time.perf_counter()
        optimize_for_inference(model, fuse_bn=False, skip_unused=False,
                               channels_last=channels_last, compile=compile_mode,
                               example_size=int(H))
        print(f'compiled ({compile_mode}) in {time.perf_counter() - start:.1f} s')
    warm_classifier_shapes(model, (H, W), channels, device)
    timer = ForwardTimer(model.classifier, device)
    if getattr(getattr(model, 'backend', None), 'active', False):
        timer.wrap(model.backend, 'logits')  # the classifier in an engine
    records = []
    progress = ProgressBar(len(warmup_indices) + len(indices))
    try:
        for timed, idx in [(False, i) for i in warmup_indices] + \
                [(True, i) for i in indices]:
            data = model.data_preprocessor(pseudo_collate([dataset[idx]]), False)
            inputs = data['inputs'].to(device)  # (1, 3, H, W)
            timer.total = 0.0
            with torch.no_grad():
                timer._sync()
                start = time.perf_counter()
                pred = model.predict(inputs, data['data_samples'])[0]
                timer._sync()
                total = time.perf_counter() - start
            progress.update()
            if not timed:
                continue
            gt = pred.get('gt_label')
            records.append(dict(
                img_path=pred.get('img_path'),
                correct=None if gt is None else int(pred.pred_label) == int(gt[0]),
                pred_label=int(pred.pred_label),
                num_patches=pred.num_patches, branch=pred.branch,
                localizer_macs=pred.localizer_macs,
                classifier_macs=pred.classifier_macs,
                total_s=total, classifier_s=timer.total,
                rest_s=total - timer.total))
    finally:
        timer.remove()
    sys.stdout.write('\n')
    return records


def input_size(model, dataset):
    """``(H, W)`` of the dataset's first image as the model sees it."""
    data = model.data_preprocessor(pseudo_collate([dataset[0]]), False)
    return tuple(int(s) for s in data['inputs'].shape[-2:])


def run_row(model, dataset, config, args):
    """One row's records: the model made faster (unless ``--no-optimize``)
    and timed on the first ``--num-images`` images of ``dataset``."""
    n = len(dataset)
    if n < args.num_images:
        raise ValueError(f'{config}: the test set has {n} images, fewer than '
                         f'--num-images {args.num_images}')
    indices = list(range(args.num_images))
    warmup = [indices[i % len(indices)] for i in range(args.warmup)]
    if not args.no_optimize:
        # BN folding and skipped test-time work, before the MACs are
        # counted (they count what runs)
        from mmfsod.classification.models.utils import optimize_for_inference
        optimize_for_inference(model, channels_last=args.channels_last)
    return benchmark(model, dataset, indices, warmup, args.device,
                     'none' if args.no_optimize else args.compile, args.channels_last)


def summarise(name, mode, records):
    mean = statistics.fmean
    median = statistics.median
    correct = [r['correct'] for r in records if r['correct'] is not None]
    return dict(
        run=name, mode=mode, images=len(records),
        top1=100.0 * mean(correct) if correct else float('nan'),
        patches=mean(r['num_patches'] for r in records),
        anchornet_gmacs=mean(r['localizer_macs'] for r in records) / 1e9,
        classifier_gmacs=mean(r['classifier_macs'] for r in records) / 1e9,
        total_gmacs=mean(r['localizer_macs'] + r['classifier_macs']
                         for r in records) / 1e9,
        rest_ms=1e3 * median(r['rest_s'] for r in records),
        classifier_ms=1e3 * median(r['classifier_s'] for r in records),
        total_ms=1e3 * median(r['total_s'] for r in records))


def format_table(rows):
    """The rows as a text table; ``MACs / full`` and ``time / full`` are
    against the first ``full`` row of the same backend (else of any)."""
    fulls = {}
    for r in rows:
        if r['mode'] == 'full':
            fulls.setdefault(r.get('backend', 'pytorch'), r)
    columns = [('run', '{}'), ('mode', '{}'), ('images', '{}'), ('top-1 %', '{:.1f}'),
               ('patches', '{:.2f}'), ('AnchorNet GMACs', '{:.4f}'),
               ('classifier GMACs', '{:.4f}'), ('total GMACs', '{:.4f}'),
               ('MACs / full', '{:.3f}'), ('AnchorNet+LSP ms', '{:.2f}'),
               ('classifier ms', '{:.2f}'), ('total ms', '{:.2f}'),
               ('time / full', '{:.3f}')]
    keys = ['run', 'mode', 'images', 'top1', 'patches', 'anchornet_gmacs',
            'classifier_gmacs', 'total_gmacs', 'macs_ratio', 'rest_ms',
            'classifier_ms', 'total_ms', 'time_ratio']
    if any(r.get('same_as_pytorch') for r in rows):  # engine rows: their agreement
        columns.append(('preds = PyTorch', '{}'))
        keys.append('same_preds')
    for row in rows:
        full = fulls.get(row.get('backend', 'pytorch'), next(iter(fulls.values()), None))
        row['macs_ratio'] = row['total_gmacs'] / full['total_gmacs'] if full \
            else float('nan')
        row['time_ratio'] = row['total_ms'] / full['total_ms'] if full \
            else float('nan')
        same = row.get('same_as_pytorch')
        row['same_preds'] = f'{same[0]}/{same[1]}' if same else '-'
    cells = [[fmt.format(row[key]) for (_, fmt), key in zip(columns, keys)]
             for row in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells))
              for i, (title, _) in enumerate(columns)]
    lines = [' | '.join(t.ljust(w) for (t, _), w in zip(columns, widths)),
             '-+-'.join('-' * w for w in widths)]
    lines += [' | '.join(c.ljust(w) for c, w in zip(cell, widths)) for cell in cells]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.paper_operating_point:
        return paper_point.run(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    pairs = list(zip(args.runs[0::2], args.runs[1::2]))
    backends, notes = engine_rows.resolve_backends(args.backends)
    for note in notes:
        print(note)  # an engine that is not installed: no rows of it
    exports = engine_rows.ClassifierExports(args.onnx_dir) \
        if backends != ['pytorch'] else None
    rows, image_lists, labels = [], [], []
    try:
        for index, (config, checkpoint) in enumerate(pairs):
            name = osp.splitext(osp.basename(config))[0]
            print(f'== {name} ({checkpoint})')
            model, dataset = build_model(config, checkpoint, args.cfg_options,
                                         args.device)
            if exports is not None:
                size = input_size(model, dataset)  # (H, W) of the first image
                weights = exports.checkpoint_of(model, config, checkpoint)
            for backend in backends:
                if backend != 'pytorch':  # the checkpoint's classifier in an engine
                    del model
                    onnx_file = exports.onnx_file(config, weights, args.cfg_options,
                                                  backend, size)
                    print(f'== {engine_rows.row_name(name, backend)}')
                    model, dataset = build_model(
                        config, weights, engine_rows.engine_options(
                            args.cfg_options, backend, onnx_file), args.device)
                records = run_row(model, dataset, config, args)
                image_lists.append([r['img_path'] for r in records])
                labels.append([r['pred_label'] for r in records])
                row = summarise(engine_rows.row_name(name, backend), model.mode, records)
                row.update(backend=model.backend.backend, config_row=index)
                rows.append(row)
    finally:
        if exports is not None:
            exports.cleanup()
    engine_rows.compare(rows, labels)
    rows.sort(key=lambda r: engine_rows.CHOICES.index(r['backend']))  # stable
    if any(paths != image_lists[0] for paths in image_lists):
        print('WARNING: the runs did not classify the same images (their test sets '
              'differ)')
    print(f'\nper image, batch 1, {args.device}, torch threads '
          f'{torch.get_num_threads()}; MACs by mmengine FlopAnalyzer (mean), wall '
          f'times median over {args.num_images} images after {args.warmup} warm-up; '
          + ('as built' if args.no_optimize else
             f'optimize_for_inference (BN folded, unused test work skipped, '
             f'compile {args.compile}, channels_last {args.channels_last})'))
    print(format_table(rows))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=args.device, threads=torch.get_num_threads(),
                           num_images=args.num_images, rows=rows), f, indent=2)
        print(f'written {args.out}')
    for line in engine_rows.agreement_lines(rows):
        print(line)  # last: per engine, its predictions against PyTorch's
    return rows


if __name__ == '__main__':
    main()
