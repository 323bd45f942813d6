"""Export AnchorNet's test path or a downstream classifier to ONNX.

    python tools/deployment/export_onnx.py CONFIG CKPT --out model.onnx \\
        [--part classifier|anchornet] [--input-size 224] [--min-size S] \\
        [--max-size S] [--opset 17] [--exporter torchscript|dynamo] \\
        [--backend onnxruntime|openvino] [--atol 1e-4] [--no-check] \\
        [--cfg-options KEY=VALUE ...]

CONFIG is an AnchorNet config (``configs/anchornet/*/anchornet_*.py``:
exports ``'anchornet'``) or a downstream ``PatchClassifier`` config
(``configs/anchornet/*/downstream/*.py``: exports its ``'classifier'`` by
default, or its localizer with ``--part anchornet``); CKPT is loaded into
the model (``none`` keeps the initial weights). Both graphs take the
normalised input with a dynamic batch and size (see
:mod:`mmfsod.classification.models.utils.onnx_export`); ``model.onnx`` is
written atomically beside its sidecar ``model.json`` (kind, classes, input
size range, normalisation, opset), which ``PatchClassifier`` checks when
``backend_cfg.onnx_file`` names the graph:

    python tools/test.py CONFIG CKPT --cfg-options model.backend=onnxruntime \\
        model.backend_cfg.onnx_file=model.onnx

Sizes: the graph is checked for and recorded with the input sides
``--min-size``..``--max-size``; defaults: the classifier of a patch config,
the smallest branch receptive field (63) to ``--input-size``; in
``mode='full'``, ``--input-size`` alone; AnchorNet, its largest receptive
field (111) to ``--input-size``.

Check (unless ``--no-check``; needs the ``deploy`` extra): the graph in
``--backend`` against PyTorch on seeded random inputs of batch 2 at the
smallest, a middle and the largest size; more than ``--atol`` is an error.
Last line: ``exported <kind> to <file>: ... max |onnx - pytorch| D (<backend>)``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner.checkpoint import load_checkpoint  # noqa: E402

import mmfsod  # noqa: E402,F401  (compat: checkpoints on torch >= 2.6)
from mmfsod.classification.models.utils.inference_backends import (  # noqa: E402
    backend_available, build_engine, max_abs_diff)
from mmfsod.classification.models.utils.onnx_export import (  # noqa: E402
    DEFAULT_OPSET, EXPORTERS, AnchorNetTestPath, ClassifierLogits, export_onnx,
    update_sidecar)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="weights loaded into the model; 'none' keeps "
                        'the initial ones')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--part', choices=('classifier', 'anchornet'), default=None,
                        help='default: anchornet for an AnchorNet config, classifier '
                        'for a PatchClassifier config')
    parser.add_argument('--input-size', type=int, default=224,
                        help='the network input side (default 224)')
    parser.add_argument('--min-size', type=int, default=None)
    parser.add_argument('--max-size', type=int, default=None)
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument('--exporter', choices=EXPORTERS, default='torchscript')
    parser.add_argument('--backend', choices=('onnxruntime', 'openvino'),
                        default='onnxruntime', help='the engine of the check')
    parser.add_argument('--atol', type=float, default=1e-4)
    parser.add_argument('--no-check', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def build_model(config: str, checkpoint: str, cfg_options=None):
    """The config's model (``data_preprocessor`` merged as the Runner does),
    ``checkpoint`` loaded, in eval mode; and the config."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model.to_dict()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor.to_dict())
    if model_cfg.get('type') == 'PatchClassifier':
        ckpt = model_cfg.get('localizer_checkpoint')
        if model_cfg.get('localizer') is None or (
                ckpt is not None and '://' not in ckpt and not osp.isfile(ckpt)):
            # no localizer (the full image), or CKPT gives the weights
            model_cfg['localizer_checkpoint'] = None
        model_cfg.update(backend='pytorch', backend_cfg=None)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        from mmpretrain.registry import MODELS
        model = MODELS.build(model_cfg)
    if checkpoint.lower() != 'none':
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} (for {config}) does '
                                    'not exist')
        load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
    return model.eval(), cfg


def graph_of(model, part, input_size, min_size=None, max_size=None):
    """``(module, kind, num_classes, min_size, max_size)`` to export."""
    is_patch = hasattr(model, 'classifier') and hasattr(model, 'localizer')
    anchornet = model.localizer if is_patch else model
    if part is None:
        part = 'classifier' if is_patch else 'anchornet'
    if part == 'anchornet':
        if anchornet is None or not hasattr(getattr(anchornet, 'backbone', None),
                                            'receptive_fields'):
            raise ValueError('--part anchornet: the config has no AnchorNet (a '
                             "PatchClassifier with mode='full' has no localizer)")
        module = AnchorNetTestPath(anchornet)
        lo = max(rf.rf for rf in anchornet.backbone.receptive_fields().values())
        num_classes = anchornet.head.num_classes
    else:
        if not is_patch:
            raise ValueError('--part classifier needs a PatchClassifier config; this '
                             f'one builds {type(model).__name__}')
        module = ClassifierLogits(model.classifier)
        if model.localizer is None or model.mode == 'full':
            lo = input_size
        else:
            lo = min(rf.rf for rf in model.localizer.backbone.receptive_fields().values())
        num_classes = getattr(getattr(model.classifier, 'head', None), 'num_classes', -1)
    lo = lo if min_size is None else min_size
    hi = input_size if max_size is None else max_size
    if lo > hi:
        raise ValueError(f'the size range {lo}..{hi} is empty (--min-size/--max-size/'
                         '--input-size)')
    return module, part, int(num_classes), int(lo), int(hi)


def normalisation_of(model) -> dict:
    dp = getattr(model, 'data_preprocessor', None)
    if not getattr(dp, '_enable_normalize', False):
        return dict(mean=None, std=None)
    return dict(mean=dp.mean.flatten().tolist(), std=dp.std.flatten().tolist(),
                to_rgb=bool(getattr(dp, 'to_rgb', False)))


def main(argv=None):
    args = parse_args(argv)
    model, _ = build_model(args.config, args.checkpoint, args.cfg_options)
    module, kind, num_classes, lo, hi = graph_of(model, args.part, args.input_size,
                                                 args.min_size, args.max_size)
    meta = dict(config=args.config, checkpoint=args.checkpoint,
                input=normalisation_of(model))
    export_onnx(module, args.out, kind, num_classes, lo, hi, opset=args.opset,
                exporter=args.exporter, meta=meta)
    summary = (f'exported {kind} to {args.out}: {num_classes} classes, input '
               f'{lo}..{hi} px, opset {args.opset} ({args.exporter})')
    if args.no_check:
        print(summary + ', not checked')
        return
    if not backend_available(args.backend):
        print(summary + f', not checked ({args.backend} is not installed: '
              "pip install -e '.[deploy]')")
        return
    mid = (lo + hi) // 2
    sizes = sorted({lo, mid | 1 if mid | 1 <= hi else mid, hi})  # an odd side too
    diff = max_abs_diff(module, build_engine(args.backend, args.out), sizes)
    update_sidecar(args.out, max_abs_diff=diff, checked_with=args.backend,
                   checked_sizes=sizes)
    if diff > args.atol:
        raise SystemExit(f'{args.out}: max |onnx - pytorch| {diff:.3g} > --atol '
                         f'{args.atol:g} ({args.backend}, sizes {sizes})')
    print(f'{summary}, max |onnx - pytorch| {diff:.2g} ({args.backend})')


if __name__ == '__main__':
    main()
