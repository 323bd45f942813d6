"""Recall of a two-stage mmdet detector's RPN proposals per class group:
the share of ground-truth boxes of each group that some proposal covers at
IoU >= the threshold (the first stage's ceiling on what the box head can
find).

    python tools/analysis_tools/proposal_recall.py CONFIG CHECKPOINT \\
        [--num-proposals 100 300] [--iou 0.5] [--device auto] [--cfg-options ...]

CONFIG's test set is read through its test pipeline; the groups are the
``class_groups`` of its ``test_evaluator`` (FewShotCocoMetric), or all
classes. For a detector whose RPN takes supports (GCN-FSOD), use the
templates' classes: this tool runs plain mmdet two-stage detectors (TFA,
Faster R-CNN).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def parse_args(argv=None):
    from mmengine.config import DictAction

    from mmfsod.utils.device import add_device_arg
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-proposals', nargs='+', type=int, default=[100, 300])
    parser.add_argument('--iou', type=float, default=0.5)
    add_device_arg(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    import torch
    from mmdet.apis import init_detector
    from mmdet.registry import DATASETS
    from mmdet.structures.bbox import bbox_overlaps
    from mmengine.dataset import pseudo_collate

    from mmfsod.detection.datasets.class_splits import resolve_classes
    from mmfsod.utils.tools import load_config
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = init_detector(cfg, args.checkpoint, device=args.device)
    if not hasattr(model, 'rpn_head') or model.with_rpn is False:
        raise SystemExit(f'error: {args.config}: the model has no RPN')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = dataset.metainfo['classes']
    # split names ('NOVEL_CLASSES', as the COCO configs give them) resolved
    # as FewShotCocoMetric resolves them
    groups = dict(cfg.test_evaluator.get('class_groups') or {'all': classes})
    splits = cfg.test_evaluator.get('class_splits')
    groups = {g: set(resolve_classes(v, splits, f'class group {g!r}'))
              for g, v in groups.items()}
    hits = {(g, n): 0 for g in groups for n in args.num_proposals}
    totals = {g: 0 for g in groups}
    top = max(args.num_proposals)
    model.rpn_head.test_cfg.max_per_img = top
    with torch.no_grad():
        for i in range(len(dataset)):
            data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
            sample = data['data_samples'][0]
            feats = model.extract_feat(data['inputs'])
            # the test pipeline loads the boxes after Resize: original pixels
            props = model.rpn_head.predict(feats, data['data_samples'], rescale=True)[0]
            gt = sample.gt_instances
            if len(gt) == 0:
                continue
            ious = bbox_overlaps(gt.bboxes, props.bboxes) if len(props) else \
                torch.zeros(len(gt), 0, device=gt.bboxes.device)
            for j, label in enumerate(gt.labels.tolist()):
                name = classes[label]
                for g, names in groups.items():
                    if name not in names:
                        continue
                    totals[g] += 1
                    for n in args.num_proposals:
                        if ious.shape[1] and ious[j, :n].max() >= args.iou:
                            hits[(g, n)] += 1
    out = {}
    for g in groups:
        for n in args.num_proposals:
            rec = hits[(g, n)] / max(totals[g], 1)
            out[f'{g}/recall@{n}'] = rec
        print(f'{g}: {totals[g]} boxes, proposal recall at IoU {args.iou}: ' + ', '.join(
            f'{n} proposals {out[f"{g}/recall@{n}"]:.3f}' for n in args.num_proposals))
    return out


if __name__ == '__main__':
    main()
