"""Choose support templates once, record them, and hand them to the model."""
import os.path as osp
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..datasets.support_templates import (build_template_supports,
                                          check_support_templates,
                                          load_support_templates,
                                          save_support_templates,
                                          select_support_templates)

META_KEY = 'support_templates'


@HOOKS.register_module()
class SupportTemplateHook(Hook):
    """Record the support templates of a run and reuse them at test.

    * ``before_train``: the templates are chosen from the training set (see
      :func:`~mmfsod.detection.datasets.select_support_templates`: every
      instance with ``num_shots=None``, i.e. the K-shot set at fine-tuning;
      otherwise a seeded sample per class, e.g. for base training) and
      written to ``<work_dir>/support_templates.json``. Templates read from
      a ``load_from`` checkpoint (the base model's) are replaced.
    * ``before_save_checkpoint``: they go into ``checkpoint['meta']
      ['support_templates']``.
    * ``after_load_checkpoint`` (``tools/test.py``, ``load_from``, resume):
      they are read back from the checkpoint, unless ``templates_file`` is
      given, which always wins.
    * ``before_val`` / ``before_test``: a model with a
      ``set_support_templates(supports)`` method receives, for every class
      of the evaluated dataset, its templates run through
      ``support_pipeline`` (``supports``: label -> (inputs (K, 3, h, w),
      InstanceData)). A class without templates is an error naming it.

    Args:
        num_shots (int, optional): templates per class; ``None``: all.
        seed (int): seed of the sample. Defaults to 0.
        classes (Sequence[str], optional): classes to choose templates for;
            defaults to every class of the training set.
        templates_file (str, optional): a json written by this hook, used
            instead of the training set or the checkpoint.
        support_pipeline (list[dict], optional): needed by models that take
            templates.
    """

    priority = 'NORMAL'

    def __init__(self, num_shots: Optional[int] = None, seed: int = 0,
                 classes: Optional[Sequence[str]] = None,
                 templates_file: Optional[str] = None,
                 support_pipeline: Optional[list] = None) -> None:
        self.num_shots = num_shots
        self.seed = seed
        self.classes = classes
        self.templates_file = templates_file
        self.support_pipeline = support_pipeline
        self.templates = None
        self.source = None
        if templates_file is not None:
            self._set(load_support_templates(templates_file), templates_file)

    def _set(self, templates: dict, source: str) -> None:
        self.templates, self.source = templates, source
        counts = {len(v) for v in templates['templates'].values()}
        print_log(f'support templates from {source}: {len(templates["templates"])} '
                  f'classes, {"/".join(map(str, sorted(counts)))} per class',
                  logger='current')

    def before_train(self, runner) -> None:
        if self.templates_file is not None:
            return
        templates = select_support_templates(runner.train_dataloader.dataset,
                                             self.num_shots, self.classes, self.seed)
        self._set(templates, 'the training set')
        path = osp.join(runner.work_dir, 'support_templates.json')
        save_support_templates(templates, path)
        print_log(f'support templates written to {path}', logger='current')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.templates is not None:
            checkpoint.setdefault('meta', {})[META_KEY] = self.templates

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        found = checkpoint.get('meta', {}).get(META_KEY)
        if found is not None and self.templates_file is None:
            self._set(check_support_templates(found, 'checkpoint meta'), 'the checkpoint')

    def _give_model(self, runner, dataloader) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_support_templates'):
            return
        if self.templates is None:
            raise RuntimeError(f'{type(model).__name__} needs support templates, but the '
                               'checkpoint has none in its meta and no templates_file '
                               'was given (SupportTemplateHook)')
        if self.support_pipeline is None:
            raise ValueError('SupportTemplateHook needs support_pipeline for '
                             f'{type(model).__name__}')
        classes = dataloader.dataset.metainfo['classes']
        model.set_support_templates(build_template_supports(
            self.templates, self.support_pipeline, classes,
            f'support templates from {self.source}'))

    def before_val(self, runner) -> None:
        self._give_model(runner, runner.val_loop.dataloader)

    def before_test(self, runner) -> None:
        self._give_model(runner, runner.test_loop.dataloader)
