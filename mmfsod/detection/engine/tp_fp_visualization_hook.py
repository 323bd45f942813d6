"""Draw a few test images with their detections as true / false positives."""
import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..visualization import draw_tp_fp


@HOOKS.register_module()
class TPFPVisualizationHook(Hook):
    """At test, draw the first ``num_images`` images with their detections
    above ``score_thr``: true positives green, false positives red (IoU >=
    ``iou_thr`` with an unmatched ground truth of the same class), ground
    truth light grey (1 pixel), labels ``<class> <score>`` with the score a
    fraction as ``score_thr`` (novel classes starred), and a legend strip of
    these colours under each picture (:func:`draw_tp_fp`). Pictures go to
    ``<work_dir>/<timestamp>/<out_dir>/``, named as the image (prefixed
    with its image id when an earlier one had the same file name).

    Args:
        num_images (int): images to draw. Defaults to 8.
        score_thr (float): lowest score drawn. Defaults to 0.3.
        iou_thr (float): IoU of a true positive. Defaults to 0.5.
        out_dir (str): sub-directory of the run's log directory.
        novel_classes (Sequence[str], optional): names to star.
    """

    def __init__(self, num_images: int = 8, score_thr: float = 0.3, iou_thr: float = 0.5,
                 out_dir: str = 'tp_fp', novel_classes: Optional[Sequence[str]] = None):
        self.num_images = num_images
        self.score_thr = score_thr
        self.iou_thr = iou_thr
        self.out_dir = out_dir
        self.novel_classes = tuple(novel_classes or ())
        self._drawn = 0
        self._names = set()

    def before_test(self, runner) -> None:
        self._drawn = 0
        self._names = set()

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        if self._drawn >= self.num_images or not outputs:
            return
        folder = osp.join(runner.log_dir, self.out_dir)
        os.makedirs(folder, exist_ok=True)
        classes = runner.test_dataloader.dataset.metainfo['classes']
        for sample in outputs:
            if self._drawn >= self.num_images:
                break
            img = mmcv.imread(sample.img_path)
            picture, tp, fp = draw_tp_fp(img, sample.pred_instances, sample.gt_instances,
                                         classes, self.score_thr, self.iou_thr,
                                         self.novel_classes)
            name = osp.basename(sample.img_path)
            if name in self._names:  # same file name in another sub-folder
                name = f'{sample.get("img_id", self._drawn)}_{name}'
            self._names.add(name)
            mmcv.imwrite(picture, osp.join(folder, name))
            self._drawn += 1
            if self._drawn == self.num_images:
                print_log(f'{self._drawn} pictures of true (green) / false (red) positives '
                          f'(score >= {self.score_thr}, ground truth grey, legend under '
                          f'each) in {folder}', logger='current')
