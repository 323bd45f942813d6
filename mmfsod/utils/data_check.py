"""Check the data of a config before training (``tools/misc/check_dataset.py``,
``tools/misc/print_config.py --check-data``).

Every dataset of the config is checked: the datasets of ``train_dataloader``,
``val_dataloader`` and ``test_dataloader`` and the top-level ``*_dataset``
entries (the custom template's ``fine_tune_dataset``: its K-shot files are
checked at base training already). For a COCO-format dataset
(:class:`~mmfsod.detection.datasets.FewShotCocoDataset` and its
subclasses): the annotation file (or the K-shot file of every class) exists
and parses, every class name of the config is a category of it, every image
path exists. A :class:`~mmfsod.detection.datasets.QuerySupportDataset` is
then indexed as at training: the pairs it can make, the images that need the
fewer-ways rule (:mod:`~mmfsod.detection.datasets.pairing`), or the error of
a dataset where no pair is possible. Any other dataset is built and its
image paths checked.

:func:`check_config` returns the report lines and the problems, one line
each, naming the config key and the file (or class).
"""
import contextlib
import copy
import io
import logging
import os.path as osp
from collections import Counter
from typing import List, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DATASETS, DefaultScope

MAX_MISSING_IMAGES = 10  # listed one a line; the rest counted in one more line


class DataReport:
    """What :func:`check_config` found: ``lines`` to print and
    ``problems`` (one line each)."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.problems: List[str] = []

    def problem(self, key: str, msg: str) -> None:
        self.problems.append(f'{key}: {" ".join(str(msg).split())}')


def _error_text(exc: BaseException) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


@contextlib.contextmanager
def _quiet():
    """pycocotools' prints and the datasets' INFO logs (of mmengine's current
    logger, its level restored after) stay out of the report."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def find_datasets(cfg: Config) -> List[Tuple[str, dict]]:
    """``(key, dataset config)`` of the dataloaders' datasets and of the
    top-level ``*_dataset`` dicts with a ``type``."""
    found = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            found.append((f'{key}.dataset', loader['dataset']))
    for key, value in cfg.items():
        if key.endswith('_dataset') and isinstance(value, dict) and 'type' in value:
            found.append((key, value))
    return found


def _dataset_class(type_name):
    if not isinstance(type_name, str):
        return type_name
    with DATASETS.switch_scope_and_registry(None) as registry:
        return registry.get(type_name)


class _Checker:

    def __init__(self, report: DataReport) -> None:
        self.report = report

    def check(self, key: str, cfg: dict):
        """Check the dataset config at ``key``; the built dataset, or None
        after a problem."""
        cls = _dataset_class(cfg.get('type'))
        if cls is None:
            self.report.problem(f'{key}.type', f'unknown dataset type {cfg.get("type")!r}')
            return None
        from mmfsod.detection.datasets import FewShotCocoDataset, QuerySupportDataset
        if isinstance(cls, type) and issubclass(cls, FewShotCocoDataset):
            return self.check_coco(key, cfg)
        if isinstance(cls, type) and issubclass(cls, QuerySupportDataset):
            return self.check_pairs(key, cfg)
        return self.check_other(key, cfg)

    def build(self, key: str, cfg: dict):
        try:
            with _quiet():
                return DATASETS.build(cfg)
        except Exception as exc:  # noqa: BLE001 (any build error is a problem line)
            self.report.problem(key, f'{type(exc).__name__}: {_error_text(exc)}')
            return None

    def check_coco(self, key: str, cfg: dict):
        from mmfsod.detection.datasets.few_shot_coco import missing_kshot_file_message
        from mmfsod.detection.datasets.few_shot_split import load_coco_json
        ds = self.build(key, dict(cfg, lazy_init=True))
        if ds is None:
            return None
        before = len(self.report.problems)
        if getattr(ds, 'generate', None) is None:  # a generated set is written at build
            if ds.few_shot_ann is None:
                files = [(f'{key}.ann_file', ds.ann_file, None)]
            else:
                cfg_ann = ds.few_shot_ann
                files = [(f'{key}.few_shot_ann', path, name)
                         for path, name in zip(ds.few_shot_files(), ds.class_names)]
            for where, path, class_name in files:
                if not osp.isfile(path):
                    msg = (missing_kshot_file_message(path, class_name, cfg_ann['shot'],
                                                      cfg_ann['seed'], type(ds).__name__)
                           if class_name else f'annotation file not found: {path}')
                    if ' is not a category of ' in msg:  # the class, not the file
                        where = f'{key}.classes'
                    self.report.problem(where, msg)
                    continue
                try:
                    coco = load_coco_json(path)
                except (OSError, ValueError) as exc:
                    self.report.problem(where, str(exc))
                    continue
                lacking = [k for k in ('images', 'annotations', 'categories') if k not in coco]
                if lacking:
                    self.report.problem(where, f'{path} is not a COCO json: no {lacking}')
                    continue
                names = [c.get('name') for c in coco['categories']]
                wanted = ds.class_names if class_name is None else [class_name]
                for name in wanted:
                    if name not in names:
                        self.report.problem(
                            f'{key}.classes', f'class {name!r} is not a category of '
                            f'{path} (its classes: {names})')
        if len(self.report.problems) > before:
            return None
        try:
            with _quiet():
                ds.full_init()
        except Exception as exc:  # noqa: BLE001
            self.report.problem(key, f'{type(exc).__name__}: {_error_text(exc)}')
            return None
        self.check_images(key, ds)
        self.report.lines.append(self.summary(key, ds))
        return ds

    @staticmethod
    def summary(key: str, ds) -> str:
        """``key (type, source): I images, B boxes, C classes: name (boxes),
        ...`` for a detection dataset (data infos with ``instances``), else
        ``key (type): N items``."""
        source = getattr(ds, '_source', None)
        head = f'{key} ({type(ds).__name__}' + (f', {source})' if source else ')')
        infos = ([ds.get_data_info(i) for i in range(len(ds))]
                 if hasattr(ds, 'get_data_info') else [])
        if not infos or not all(isinstance(info.get('instances'), list) for info in infos):
            return f'{head}: {len(ds)} items'
        per_class = Counter(inst.get('bbox_label') for info in infos
                            for inst in info['instances'])
        classes = ds.metainfo.get('classes') or sorted(per_class)
        return (f'{head}: {len(infos)} images, {sum(per_class.values())} boxes, '
                f'{len(classes)} classes: '
                + ', '.join(f'{c} ({per_class.get(i, 0)})' for i, c in enumerate(classes)))

    def check_images(self, key: str, ds) -> None:
        missing = []
        for i in range(len(ds)):
            path = ds.get_data_info(i).get('img_path')
            if path is not None and not osp.isfile(path):
                missing.append(path)
        source = getattr(ds, '_source', type(ds).__name__)
        for path in missing[:MAX_MISSING_IMAGES]:
            self.report.problem(f'{key}.data_prefix', f'image not found: {path} (an image '
                                f'of {source})')
        if len(missing) > MAX_MISSING_IMAGES:
            self.report.problem(f'{key}.data_prefix', f'{len(missing) - MAX_MISSING_IMAGES} '
                                f'more images of {source} not found (of {len(ds)})')

    def check_pairs(self, key: str, cfg: dict):
        inner = self.check(f'{key}.dataset', cfg['dataset'])
        support = cfg.get('support_dataset')
        if isinstance(support, dict):
            support = self.check(f'{key}.support_dataset', support)
            if support is None:
                return None
        if inner is None:
            return None
        ds = self.build(key, dict(cfg, dataset=inner, support_dataset=support,
                                  lazy_init=True))
        if ds is None:
            return None
        try:
            with _quiet():
                ds.full_init()
        except Exception as exc:  # noqa: BLE001
            self.report.problem(f'{key}.num_support_ways',
                                f'{type(exc).__name__}: {_error_text(exc)}')
            return None
        fewer = ds.num_fewer_way_queries
        self.report.lines.append(
            f'{key} ({type(ds).__name__}): {ds.num_support_ways}-way '
            f'{ds.num_support_shots}-shot pairs: {len(ds.query_indices)} query images x '
            f'{ds.repeat} round(s) = {len(ds)} items; {fewer} images need the fewer-ways '
            'rule (they show every class with supports: 1-way pairs); '
            f'{ds.num_skipped_queries} images without a class with supports (not used)')
        return ds

    def check_other(self, key: str, cfg: dict):
        ds = self.build(key, cfg)
        if ds is None:
            return None
        if hasattr(ds, 'get_data_info'):
            try:
                self.check_images(key, ds)
            except Exception as exc:  # noqa: BLE001 (a dataset without data infos)
                self.report.problem(key, f'{type(exc).__name__}: {_error_text(exc)}')
                return None
        self.report.lines.append(self.summary(key, ds))
        return ds


def check_config(cfg: Config) -> DataReport:
    """Check every dataset of ``cfg`` (loaded, with its ``--cfg-options``);
    the report's ``problems`` are empty when the data is usable."""
    report = DataReport()
    checker = _Checker(report)
    seen = []
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmengine')):
        for key, ds_cfg in find_datasets(cfg):
            ds_cfg = copy.deepcopy(ds_cfg.to_dict() if hasattr(ds_cfg, 'to_dict')
                                   else dict(ds_cfg))
            same = next((k for k, c in seen if c == ds_cfg), None)
            if same is not None:
                report.lines.append(f'{key}: the same as {same}')
                continue
            seen.append((key, ds_cfg))
            checker.check(key, ds_cfg)
    return report
