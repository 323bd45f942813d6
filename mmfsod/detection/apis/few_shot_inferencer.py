"""Few-shot detection of the classes shown by a few boxes, as mmdet's
:class:`~mmdet.apis.DetInferencer` detects its training classes."""
import copy
import glob
import os.path as osp
from typing import Callable, List, Optional, Sequence

import mmcv
import numpy as np
from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.fileio import list_dir_or_file
from mmengine.registry import FUNCTIONS
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model
from mmengine.utils import ProgressBar

from mmfsod.utils.config_derived import resolve_derived
from ..datasets.few_shot_coco import _palette
from ..visualization.drawing import draw_detections
from .io import dump_json_atomic
from .paths import CocoIds, config_image_dirs
from .supports import SupportSet, build_supports, load_support_set, save_support_set

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
TEMPLATE_META_KEY = 'support_templates'  # SupportTemplateHook's checkpoint meta key


def find_support_pipeline(cfg) -> list:
    """The support pipeline of a GCN-FSOD config: ``support_pipeline`` at
    the top, else the one of its ``SupportTemplateHook``."""
    if cfg.get('support_pipeline'):
        return list(cfg.support_pipeline)
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'SupportTemplateHook' and hook.get('support_pipeline'):
            return list(hook['support_pipeline'])
    raise ValueError(f'{cfg.filename or "config"}: no support pipeline (neither '
                     '`support_pipeline` nor a SupportTemplateHook with one)')


def expand_query(inputs) -> list:
    """An image path, a folder, a glob, an array, or a list of these -> a
    list of image paths and arrays; an empty folder or glob, or a missing
    file, is an error naming it."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not items:
        raise ValueError('query: no image given')
    out = []
    for item in items:
        if isinstance(item, np.ndarray):
            out.append(item)
        elif not isinstance(item, str):
            raise TypeError(f'query: an image path, folder, glob or array, got '
                            f'{type(item).__name__}')
        elif osp.isdir(item):
            found = sorted(osp.join(item, f) for f in list_dir_or_file(
                item, list_dir=False, suffix=IMG_EXTENSIONS))
            if not found:
                raise ValueError(f'query: no image ({"/".join(IMG_EXTENSIONS)}) in the '
                                 f'folder {item}')
            out.extend(found)
        elif osp.isfile(item):
            out.append(item)
        elif any(c in item for c in '*?['):
            found = sorted(p for p in glob.glob(item, recursive=True)
                           if p.lower().endswith(IMG_EXTENSIONS) and osp.isfile(p))
            if not found:
                raise ValueError(f'query: no image matches {item}')
            out.extend(found)
        else:
            raise FileNotFoundError(f'query image not found: {item}')
    return out


class FewShotDetInferencer(DetInferencer):
    """Detect, in query images, the classes shown by a few support boxes,
    with a query-support detector (GCN-FSOD) and no training.

    Built and called as :class:`~mmdet.apis.DetInferencer` (config,
    checkpoint, ``__call__(inputs, batch_size, out_dir, pred_score_thr,
    no_save_vis, no_save_pred, return_datasamples, ...)``). The classes it
    detects are those of its supports, in their order:

    * none given: the support templates recorded in the checkpoint (by
      :class:`~mmfsod.detection.engine.SupportTemplateHook` at training);
    * ``supports='boxes.json'`` (or a list of jsons): every box of a
      COCO-format json, images under ``support_img_dir`` (default: the
      first folder that holds them of the config's ``data_root +
      data_prefix['img']``, ``<root>/images/`` for ``<root>/annotations/``,
      ``<root>/``, the json's folder); a template json
      (``support_templates.json``, :meth:`save_templates`) is read too;
    * ``supports=[(image path or (H, W, 3) uint8 BGR array, boxes, class
      name), ...]``, boxes ``[x1, y1, x2, y2]`` in that image's pixels.

    ``classes`` keeps (and orders) some of them. Each support box is cut out
    and normalised as the templates are at test
    (:func:`~mmfsod.detection.apis.supports.build_supports`), and the
    detector computes its support features once.

    The predictions are labelled with the support classes (``labels``
    index them, ``label_names`` names them), boxes in original-image pixels,
    at most ``model.test_cfg.max_per_img`` per image. With ``out_dir`` the
    pictures go to ``out_dir/vis/`` (boxes above ``pred_score_thr`` in
    their class's colour, labelled ``<class> <score>`` with the score a
    fraction, labels not overlapping:
    :func:`~mmfsod.detection.visualization.draw_detections`) and, unless
    ``no_save_pred``, one json per image to ``out_dir/preds/`` and every
    detection to ``out_dir/results.bbox.json``: COCO's results format in
    the ids of ``ann_file`` (``__call__``) when it is given, else
    ``file_name`` and ``category_name`` instead of ids.

    Args:
        model (str | Config): the detector's config.
        weights (str): its checkpoint.
        supports: see above. Defaults to the checkpoint's templates.
        support_img_dir (str, optional): image folder of a COCO support json.
        classes (Sequence[str], optional): the support classes to detect.
        device, scope, palette, show_progress: as ``DetInferencer``.
    """

    def __init__(self,
                 model,
                 weights: Optional[str] = None,
                 supports=None,
                 support_img_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmdet',
                 palette: str = 'none',
                 show_progress: bool = True) -> None:
        self.checkpoint_templates = None
        self.weights = weights
        self.support_set: Optional[SupportSet] = None
        if isinstance(model, str) and osp.isfile(model):
            model = Config.fromfile(model)
        if isinstance(model, Config):  # '${key}' fields (mmfsod/utils/config_derived.py)
            model = resolve_derived(copy.deepcopy(model))
        super().__init__(model=model, weights=weights, device=device, scope=scope,
                         palette=palette, show_progress=show_progress)
        if not hasattr(self.model, 'set_support_templates'):
            raise TypeError(f'FewShotDetInferencer needs a query-support detector (with '
                            f'set_support_templates), got {type(self.model).__name__}')
        self.support_pipeline = find_support_pipeline(self.cfg)
        if supports is not None:
            self.set_supports(supports, support_img_dir, classes)
        elif self.checkpoint_templates is not None:
            self.set_supports(self.checkpoint_templates, classes=classes)

    # --------------------------------------------------------------- set-up
    def _init_collate(self, cfg) -> Callable:
        """The config's ``test_dataloader.collate_fn`` from mmengine's
        ``FUNCTIONS`` (mmdet has no such registry: looking it up in the
        ``mmdet`` scope only warns), else ``pseudo_collate``."""
        name = (cfg.get('test_dataloader') or {}).get('collate_fn')
        if name is None:
            return pseudo_collate
        return FUNCTIONS.get(name['type'] if isinstance(name, dict) else name)

    def _init_visualizer(self, cfg) -> None:
        """No mmengine visualizer (the pictures are drawn by
        :func:`~mmfsod.detection.visualization.draw_detections`), so none is
        built without a ``save_dir``."""
        return None

    # ------------------------------------------------------------- supports
    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        super()._load_weights_to_model(model, checkpoint, cfg)
        if checkpoint is not None:
            self.checkpoint_templates = checkpoint.get('meta', {}).get(TEMPLATE_META_KEY)

    @property
    def classes(self) -> tuple:
        """The classes detected, in label order."""
        return tuple(self.support_set or ())

    def set_supports(self, supports, img_dir: Optional[str] = None,
                     classes: Optional[Sequence[str]] = None) -> None:
        """Register the classes of ``supports`` (any source of the class
        docstring); they replace the previous ones."""
        support_set = load_support_set(supports, img_dir, classes,
                                       config_dirs=config_image_dirs(self.cfg))
        self.model.set_support_templates(build_supports(support_set,
                                                        self.support_pipeline))
        names = tuple(support_set)
        self.model.dataset_meta = dict(classes=names, palette=_palette(names))
        self.support_set = support_set

    def save_templates(self, path: str) -> str:
        """Write the supports as a template json (array images as PNG next
        to it), for :meth:`load_templates` or a config's
        ``SupportTemplateHook(templates_file=...)``."""
        self._need_supports()
        return save_support_set(self.support_set, path, source='FewShotDetInferencer')

    def load_templates(self, path: str, classes: Optional[Sequence[str]] = None) -> None:
        """Read supports written by :meth:`save_templates` (or a
        ``support_templates.json`` of a training run)."""
        self.set_supports(path, classes=classes)

    def _need_supports(self) -> None:
        if self.support_set is None:
            raise RuntimeError('FewShotDetInferencer has no supports: the checkpoint '
                               f'{self.weights} records no support templates; give '
                               'supports= (a COCO json or [(image, boxes, class name)])')

    def fine_tune(self, iters: int, work_dir: str,
                  fine_tune_config=None) -> str:
        """A short K-shot fine-tuning on the current supports (see
        :func:`~mmfsod.detection.apis.fine_tune_on_supports`); the model
        then has the new weights. Returns the new checkpoint."""
        from .few_shot_fine_tune import fine_tune_on_supports
        self._need_supports()
        _, ckpt = fine_tune_on_supports(
            fine_tune_config if fine_tune_config is not None else self.cfg,
            self.weights, self.support_set, work_dir, iters)
        _load_checkpoint_to_model(self.model, _load_checkpoint(ckpt, map_location='cpu'))
        self.weights = ckpt
        self.set_supports(self.support_set)
        return ckpt

    # ------------------------------------------------------------ inference
    def __call__(self,
                 inputs,
                 batch_size: int = 1,
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: int = 0,
                 no_save_vis: bool = False,
                 draw_pred: bool = True,
                 pred_score_thr: float = 0.3,
                 return_datasamples: bool = False,
                 print_result: bool = False,
                 no_save_pred: bool = True,
                 out_dir: str = '',
                 ann_file: Optional[str] = None,
                 **kwargs) -> dict:
        """As :meth:`DetInferencer.__call__` (without its text prompts);
        ``inputs`` may also be a folder or a glob. Returns
        ``dict(predictions=[...], visualization=[...])``; a prediction is
        ``dict(img_path, labels, label_names, scores, bboxes)`` (or a
        ``DetDataSample`` with ``return_datasamples``).

        ``ann_file``: a COCO json of the query images; the detections of
        ``out_dir/results.bbox.json`` then carry its ``image_id`` (the image
        whose ``file_name`` ends the query's path) and ``category_id`` (the
        category named as the support class), so the file evaluates with
        pycocotools against it. Without it they carry ``file_name`` and
        ``category_name`` only."""
        self._need_supports()
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        (preprocess_kwargs, forward_kwargs, visualize_kwargs,
         postprocess_kwargs) = self._dispatch_kwargs(**kwargs)
        ori_inputs = expand_query(inputs)
        image_ids = cat_ids = None
        if ann_file is not None:  # checked before any inference
            coco_ids = CocoIds(ann_file)
            image_ids = coco_ids.image_ids(ori_inputs)
            cat_ids = coco_ids.class_ids(self.classes)
        self._pred_names = [p if isinstance(p, str) else f'{i:08d}.jpg'
                            for i, p in enumerate(ori_inputs)]
        out_names = output_names(self._pred_names)
        chunks = self.preprocess(ori_inputs, batch_size=batch_size, **preprocess_kwargs)
        results = dict(predictions=[], visualization=[])
        coco_results = []
        bar = ProgressBar(len(ori_inputs)) if self.show_progress else None
        done = 0
        for ori_imgs, data in chunks:
            preds = self.forward(data, **forward_kwargs)
            names = self._pred_names[done:done + len(preds)]
            for name, out_name, pred in zip(names, out_names[done:done + len(preds)], preds):
                pred.set_metainfo(dict(query_name=name, out_name=out_name))
                coco_results.extend(coco_detections(
                    pred, self.classes, name,
                    None if image_ids is None else image_ids[done], cat_ids))
                done += 1
            vis = self.visualize(ori_imgs, preds, return_vis=return_vis, show=show,
                                 wait_time=wait_time, draw_pred=draw_pred,
                                 pred_score_thr=pred_score_thr, no_save_vis=no_save_vis,
                                 img_out_dir=out_dir, **visualize_kwargs)
            res = self.postprocess(preds, vis, return_datasamples=return_datasamples,
                                   print_result=print_result, no_save_pred=no_save_pred,
                                   pred_out_dir=out_dir, **postprocess_kwargs)
            results['predictions'].extend(res['predictions'])
            if res['visualization'] is not None:
                results['visualization'].extend(res['visualization'])
            if bar is not None:
                bar.update(len(preds))
        if bar is not None:
            print(flush=True)
        if out_dir and not no_save_pred:
            dump_json_atomic(coco_results, osp.join(out_dir, 'results.bbox.json'))
        return results

    def visualize(self, inputs: list, preds: List[DetDataSample], return_vis: bool = False,
                  show: bool = False, wait_time: int = 0, draw_pred: bool = True,
                  pred_score_thr: float = 0.3, no_save_vis: bool = False,
                  img_out_dir: str = '', **kwargs) -> Optional[List[np.ndarray]]:
        """As :meth:`DetInferencer.visualize`, drawn by
        :func:`~mmfsod.detection.visualization.draw_detections` (scores as
        fractions, labels not overlapping); pictures go to
        ``img_out_dir/vis/<image name>``. Returns RGB pictures with
        ``return_vis``."""
        if no_save_vis:
            img_out_dir = ''
        if not show and not img_out_dir and not return_vis:
            return None
        meta = self.model.dataset_meta
        results = []
        for single_input, pred in zip(inputs, preds):
            if isinstance(single_input, str):
                img = mmcv.imread(single_input)  # BGR
            else:  # an array input, BGR as the pipeline takes it
                img = np.asarray(single_input)
            name = (pred.metainfo.get('out_name')
                    or f'{self.num_visualized_imgs:08d}.jpg')
            picture = (draw_detections(img, pred.pred_instances, meta['classes'],
                                       meta['palette'], pred_score_thr)
                       if draw_pred else img.copy())
            if img_out_dir:
                mmcv.imwrite(picture, osp.join(img_out_dir, 'vis', name))
            if show:
                mmcv.imshow(picture, name, wait_time)
            results.append(picture[..., ::-1])
            self.num_visualized_imgs += 1
        return results

    def pred2dict(self, data_sample: DetDataSample, pred_out_dir: str = '') -> dict:
        """``DetInferencer.pred2dict`` plus ``img_path`` and ``label_names``;
        the json (``pred_out_dir/preds/<image name>.json``, see
        :func:`output_names`) is written whole or not at all."""
        result = super().pred2dict(data_sample, '')
        name = data_sample.metainfo.get('query_name', data_sample.get('img_path'))
        result = dict(img_path=name, **result,
                      label_names=[self.classes[i] for i in result.get('labels', [])])
        if pred_out_dir:
            stem = osp.splitext(data_sample.metainfo.get('out_name') or osp.basename(name))[0]
            dump_json_atomic(result, osp.join(pred_out_dir, 'preds', stem + '.json'))
        return result


def output_names(paths: Sequence[str]) -> List[str]:
    """The names of the pictures and jsons of the queries ``paths``: their
    file names when these differ, else their paths below the folder common
    to all (``train/0001.jpg`` and ``val/0001.jpg``), so that no output
    overwrites another."""
    names = [osp.basename(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    full = [osp.abspath(p) for p in paths]
    common = osp.commonpath([osp.dirname(p) for p in full])
    return [osp.relpath(p, common) for p in full]


def coco_detections(pred: DetDataSample, classes: Sequence[str], file_name: str,
                    image_id: Optional[int] = None,
                    cat_ids: Optional[Sequence[int]] = None) -> List[dict]:
    """The detections of one image for a results file: ``bbox`` ``x, y, w,
    h`` in image pixels, ``score``, ``file_name``, ``category_name``; with
    ``image_id`` and ``cat_ids`` (category id per label, e.g. of
    :class:`~mmfsod.detection.apis.paths.CocoIds`) also ``image_id`` and
    ``category_id``: COCO's results format in that json's ids."""
    inst = pred.pred_instances
    out = []
    for box, score, label in zip(inst.bboxes.tolist(), inst.scores.tolist(),
                                 inst.labels.tolist()):
        x1, y1, x2, y2 = box
        det = dict(file_name=file_name, category_name=classes[label],
                   bbox=[x1, y1, x2 - x1, y2 - y1], score=float(score))
        if image_id is not None and cat_ids is not None:
            det = dict(image_id=image_id, category_id=int(cat_ids[label]), **det)
        out.append(det)
    return out
