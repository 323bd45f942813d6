"""FLOPs (MACs) and parameters of AnchorNet, per part, counted with
``mmengine.analysis``.

    python tools/analysis_tools/anchornet_flops.py \
        [--config configs/anchornet/imagenet/anchornet_8xb32_in1k.py] \
        [--shape 224 [224]] [--out-json table.json] [--cfg-options k=v ...]

Counting convention (printed with the table):

* the model is the config's ``ImageClassifier`` in eval mode, one image of
  ``--shape``, the test-time forward (``mode='tensor'``: backbone, the three
  1x1 logits convs ``F_j``, the pooling). The attention bottlenecks, the
  attention branches' 1x1 convs and eqs. 1-5 count only with
  ``model.head.test_with_attention=True``: the default, the paper's test,
  cuts the attention branch, so its output is unused and the traced count
  leaves it out (0.450 G MACs at 224, 0.486 G with
  ``test_with_attention=True``; the eager forward still runs the attention
  bottlenecks unless ``backbone.attention_at_test=False``, which
  ``optimize_for_inference`` sets, with the pooled test logits: 0.358 G);
* ``MACs``: mmengine's FlopAnalyzer counts of convolutions and linear /
  matrix products, where one multiply-add counts as one "flop" -- the
  paper's convention (0.5 G for AnchorNet at 224 x 224);
* ``BN+pool``: what mmengine counts besides, by default: batch norm (2 ops a
  value with affine parameters, at eval) and adaptive average pooling (the SE
  blocks' squeeze, 1 op a value); activations, the SE gating products and the
  attention equations' element-wise products, sums and softmaxes are not
  counted by mmengine at all;
* ``params``: every parameter (conv and linear weights and biases, BN's
  affine weight and bias; BN's running statistics are buffers and not
  counted). The training-only auxiliary FCs on the attention features (one
  per branch) are not run at test, so they have no MACs; the totals give the
  parameters with and without them (the paper states 1.6 M).
"""
import argparse
import json
import os.path as osp
import sys
from collections import OrderedDict

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import torch  # noqa: E402
from mmengine.analysis import FlopAnalyzer, parameter_count  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmfsod  # noqa: F401,E402
from mmfsod.classification.models.classifiers.patch_classifier import MAC_OPS  # noqa: E402

DEFAULT_CONFIG = 'configs/anchornet/imagenet/anchornet_8xb32_in1k.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='FLOPs (MACs) and parameters of AnchorNet, per part')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='an AnchorNet config (default: the ImageNet one)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='input size: H [W] (default 224)')
    parser.add_argument('--out-json', help='also write the table to this json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'model.backbone.se_squeeze_from=in')
    return parser.parse_args(argv)


def build_model(config: str, cfg_options=None):
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config!r} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        model = MODELS.build(cfg.model)
    for attr in ('backbone', 'head'):
        if not hasattr(model, attr):
            raise TypeError(f'{config}: the model {type(model).__name__} has no {attr}')
    backbone = model.backbone
    for attr in ('head_layers', 'branches', 'attention_layers'):
        if not hasattr(backbone, attr):
            raise TypeError(f'{config}: the backbone {type(backbone).__name__} is not '
                            f'an AnchorNet (no {attr})')
    return model.eval()


def model_parts(model) -> 'OrderedDict[str, list]':
    """Row name -> module names (prefixes) making it up."""
    names = tuple(model.backbone.branch_names)
    parts = OrderedDict()
    parts['head (Table 1)'] = ['backbone.head_layers']
    for n in names:
        parts[f'branch {n} (Table 2)'] = [f'backbone.branches.{n}']
    for n in names:
        parts[f'attention bneck {n}'] = [f'backbone.attention_layers.{n}']
    parts['logits convs F_j (1x1)'] = [f'head.logits_convs.{n}' for n in names]
    parts['attention convs, eq. 1 (1x1)'] = [f'head.att_convs.{n}' for n in names]
    parts['training-only FCs'] = [f'head.att_fcs.{n}' for n in names]
    return parts


def count(model, shape):
    """Per-part and total MACs / other ops / params for one ``shape`` image.

    Returns:
        dict: ``rows`` (list of dicts: part, params, macs, other_ops) and
        ``total`` (the same keys, counted on the whole model).
    """
    inputs = (torch.randn(1, 3, *shape), )
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_op = analyzer.by_module_and_operator()  # module -> Counter(op -> count)
    params = parameter_count(model)  # module -> count ('' = all)

    def ops_of(prefix):
        counter = by_op.get(prefix, {})
        macs = sum(v for k, v in counter.items() if k in MAC_OPS)
        return macs, sum(counter.values()) - macs

    rows = []
    for part, prefixes in model_parts(model).items():
        macs = other = n_params = 0
        for prefix in prefixes:
            m, o = ops_of(prefix)
            macs, other = macs + m, other + o
            n_params += params.get(prefix, 0)
        rows.append(dict(part=part, params=n_params, macs=macs, other_ops=other))
    total_macs, total_other = ops_of('')
    total = dict(part='total', params=params[''], macs=total_macs,
                 other_ops=total_other)
    rest = {k: total[k] - sum(r[k] for r in rows)
            for k in ('params', 'macs', 'other_ops')}
    if any(rest.values()):  # anything outside the listed parts
        rows.append(dict(part='other', **rest))
    return dict(rows=rows, total=total)


def format_table(result, shape, config) -> str:
    rows, total = result['rows'], result['total']
    train_only = next(r for r in rows if r['part'] == 'training-only FCs')
    lines = [f'AnchorNet complexity, {config}, input 1x3x{shape[0]}x{shape[1]}', '',
             f'| {"part":<30} | {"params":>10} | {"MACs":>13} | {"BN+pool ops":>12} |',
             f'|{"-" * 32}|{"-" * 12}|{"-" * 15}|{"-" * 14}|']
    for r in rows + [total]:
        lines.append(f'| {r["part"]:<30} | {r["params"]:>10,} | {r["macs"]:>13,} | '
                     f'{r["other_ops"]:>12,} |')
    summed = {k: sum(r[k] for r in rows) for k in ('params', 'macs', 'other_ops')}
    ok = all(summed[k] == total[k] for k in summed)
    inference_params = total['params'] - train_only['params']
    lines += [
        '',
        f'sum of the parts == total: {ok}',
        f'MACs (conv + linear, 1 multiply-add = 1): {total["macs"] / 1e9:.4f} G '
        f'({total["macs"]:,})',
        f'mmengine default count (MACs + BN + pooling): '
        f'{(total["macs"] + total["other_ops"]) / 1e9:.4f} G',
        f'params: {total["params"] / 1e6:.4f} M with the training-only FCs, '
        f'{inference_params / 1e6:.4f} M at inference ({inference_params:,})',
        'paper (AnchorNet, 224x224, 1000 classes): 0.5 G FLOPs (multiply-adds), 1.6 M '
        'params',
        '',
        'Convention: mmengine.analysis FlopAnalyzer on the eval-mode forward of one '
        'image; a multiply-add counts as one. "MACs" are convolutions and linear '
        'layers; "BN+pool ops" are what mmengine also counts by default (batch norm, '
        '2 a value at eval; the SE squeeze pooling, 1 a value). Activations, SE '
        'gating products and the attention equations (1)-(5) are not counted. Params '
        'include BN affine weights, not BN running statistics; the training-only FCs '
        'have params but no MACs (not run at test).',
    ]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if len(args.shape) == 1:
        shape = (args.shape[0], args.shape[0])
    elif len(args.shape) == 2:
        shape = tuple(args.shape)
    else:
        raise ValueError(f'--shape takes H or H W, got {args.shape}')
    model = build_model(args.config, args.cfg_options)
    model.backbone.geometry(shape)  # ValueError if smaller than the largest RF
    result = count(model, shape)
    print(format_table(result, shape, args.config))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(dict(config=args.config, shape=list(shape), **result), f,
                      indent=1)
    return result


if __name__ == '__main__':
    main()
