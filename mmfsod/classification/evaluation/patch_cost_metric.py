"""Average cost per image of classifying from semantic patches (the FLOPs
column of the paper's Table 3), beside mmpretrain's ``Accuracy``."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

REQUIRED_KEYS = ('localizer_macs', 'classifier_macs', 'num_patches')
UNITS = {'G': 1e9, 'M': 1e6, '': 1.0}


@METRICS.register_module()
class PatchCostMetric(BaseMetric):
    """Mean multiply-accumulates per image of a
    :class:`~mmfsod.classification.models.PatchClassifier`.

    Reads the per-image record that ``PatchClassifier.predict`` stores
    (``localizer_macs``, ``classifier_macs``, ``num_patches``, ``branch`` and,
    when counted, ``full_image_macs``; all counted by mmengine's
    ``FlopAnalyzer``) and reports, averaged over the images:

    * ``classifier_<u>macs``: the downstream classifier on the image's
      patches (the paper's Table 3 FLOPs);
    * ``localizer_<u>macs``: AnchorNet itself (left out by the paper);
    * ``total_<u>macs``: their sum, the real cost of the patch pipeline;
    * ``full_image_<u>macs`` and ``total_to_full`` (total / full image), when
      every image has ``full_image_macs``: the classifier on the whole input;
    * ``num_patches``: patches per image;
    * per branch (not in ``mode='full'``): ``<name>_images`` (the fraction
      of the images localized by it), ``<name>_num_patches`` (their mean
      patches per image), as the paper's section 4.3 reports them,
      ``<name>_classifier_<u>macs`` and, when the images have ``gt_label``,
      ``<name>_top1`` (top-1 accuracy in % over those images: the per-scale
      rows of Table 3 and columns of Table 4).

    ``<u>`` is ``g`` (default), ``m`` or empty for ``unit='G'``, ``'M'``,
    ``''``. Use it in a list beside ``dict(type='Accuracy', topk=(1, 5))``.

    Args:
        unit (str): ``'G'`` (default), ``'M'`` or ``''`` (plain MACs).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): default ``'cost'``.
    """
    default_prefix: Optional[str] = 'cost'

    def __init__(self, unit: str = 'G', collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if unit not in UNITS:
            raise ValueError(f'PatchCostMetric: unit must be one of {list(UNITS)}, '
                             f'got {unit!r}')
        self.unit = unit

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for data_sample in data_samples:
            missing = [k for k in REQUIRED_KEYS if k not in data_sample]
            if missing:
                raise KeyError(f'PatchCostMetric: a prediction has no {missing}; the '
                               'model must be a PatchClassifier (it stores the cost '
                               'of every image)')
            record = {k: int(data_sample[k]) for k in REQUIRED_KEYS}
            record['branch'] = data_sample.get('branch')
            full = data_sample.get('full_image_macs')
            record['full_image_macs'] = None if full is None else int(full)
            gt_label = data_sample.get('gt_label')
            gt_label = None if gt_label is None else torch.as_tensor(gt_label).flatten()
            record['correct'] = None if gt_label is None or gt_label.numel() == 0 \
                else bool(int(torch.as_tensor(data_sample['pred_label']).flatten()[0])
                          == int(gt_label[0]))
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('PatchCostMetric: no predictions to average')
        scale = UNITS[self.unit]
        u = self.unit.lower()
        localizer = np.mean([r['localizer_macs'] for r in results])
        classifier = np.mean([r['classifier_macs'] for r in results])
        total = localizer + classifier
        metrics = {
            f'classifier_{u}macs': float(classifier / scale),
            f'localizer_{u}macs': float(localizer / scale),
            f'total_{u}macs': float(total / scale),
            'num_patches': float(np.mean([r['num_patches'] for r in results])),
        }
        if all(r['full_image_macs'] is not None for r in results):
            full = np.mean([r['full_image_macs'] for r in results])
            metrics[f'full_image_{u}macs'] = float(full / scale)
            metrics['total_to_full'] = float(total / full) if full > 0 else float('nan')
        per_branch = defaultdict(list)
        for r in results:
            if r['branch'] is not None:
                per_branch[r['branch']].append(r)
        for name, group in per_branch.items():
            metrics[f'{name}_images'] = len(group) / len(results)
            metrics[f'{name}_num_patches'] = float(np.mean([r['num_patches']
                                                            for r in group]))
            metrics[f'{name}_classifier_{u}macs'] = float(
                np.mean([r['classifier_macs'] for r in group]) / scale)
            if all(r['correct'] is not None for r in group):
                metrics[f'{name}_top1'] = 100.0 * float(np.mean([r['correct']
                                                                 for r in group]))
        return metrics
