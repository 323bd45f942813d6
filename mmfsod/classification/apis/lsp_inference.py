"""Localize semantic patches on image files with a trained AnchorNet.

The records and pictures come from the same
:class:`~mmfsod.classification.engine.LSPRecorder` that
:class:`~mmfsod.classification.engine.LSPHook` uses during test, so a folder
and a test run write the same records for the same images (``gt_label`` is
``null`` here: files carry no label).
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar, scandir

from ...utils.device import resolve_device
from ..engine.lsp_recorder import LSPRecorder, Setting, write_lsp_records

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
                  '.webp')


def list_images(img_dir: str) -> List[str]:
    """Image files under ``img_dir`` (recursively, sorted), joined to it."""
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder {img_dir!r} does not exist')
    files = sorted(scandir(img_dir, suffix=IMG_EXTENSIONS, recursive=True,
                           case_sensitive=False))
    if not files:
        raise FileNotFoundError(f'image folder {img_dir!r} holds no image '
                                f'({", ".join(IMG_EXTENSIONS)})')
    return [osp.join(img_dir, f) for f in files]


class LSPInferencer:
    """AnchorNet + LSP on image files.

    Args:
        config (str | Config): an AnchorNet config (its test pipeline is used;
            it must only resize, see :class:`LSPRecorder`).
        checkpoint (str, optional): weights; None keeps the initialization.
        setting (str | dict): LSP setting, ``'downstream'`` (default),
            ``'visualisation'`` or a per-branch dict.
        device (str): ``'auto'`` (default: CUDA if visible, else CPU),
            ``'cpu'``, ``'cuda'`` or ``'cuda:N'``
            (:func:`~mmfsod.utils.device.resolve_device`).
        cfg_options (dict, optional): overrides merged into the config.

    Example:
        >>> inferencer = LSPInferencer('configs/anchornet/toy/anchornet_toy-clutter.py',
        ...                            'work_dirs/anchornet_toy-clutter/epoch_20.pth')
        >>> records = inferencer(['a.jpg', 'b.jpg'], draw_dir='vis', num_draw=2)
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 setting: Setting = 'downstream', device: str = 'auto',
                 cfg_options: Optional[dict] = None) -> None:
        from mmpretrain.apis import init_model  # heavy: imported on use
        device = resolve_device(device, 'device')
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(f'config file {config!r} does not exist')
            config = Config.fromfile(config)
        if cfg_options:
            config.merge_from_dict(cfg_options)
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
        self.cfg = config
        self.model = init_model(config, checkpoint, device=device)
        self.device = device
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            from mmpretrain.registry import TRANSFORMS
            self.pipeline = Compose([TRANSFORMS.build(t) for t in
                                     config.test_dataloader.dataset.pipeline])
        # init_model keeps the checkpoint's dataset_meta (else the config's
        # test dataset class METAINFO) in ``_dataset_meta``
        meta = getattr(self.model, 'dataset_meta', None) or getattr(
            self.model, '_dataset_meta', None) or {}
        classes = meta.get('classes')
        self.recorder = LSPRecorder(self.model.backbone, setting, class_names=classes)

    def __call__(self, img_paths: Sequence[str], batch_size: int = 1,
                 draw_dir: Optional[str] = None, num_draw: int = 0,
                 show_progress: bool = True) -> List[dict]:
        """Records of ``img_paths``, in order (``sample_idx`` = position).

        Images of the first ``num_draw`` positions are drawn into
        ``draw_dir`` (as :class:`LSPHook` does). Batches need images of one
        input size (a resizing test pipeline); ``batch_size=1`` always works.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
                or batch_size < 1:
            raise ValueError(f'LSPInferencer: batch_size must be an int >= 1, got '
                             f'{batch_size!r}')
        if num_draw and draw_dir is None:
            raise ValueError('LSPInferencer: num_draw > 0 needs draw_dir')
        records = []
        progress = ProgressBar(len(img_paths)) if show_progress else None
        for start in range(0, len(img_paths), batch_size):
            items = []
            for idx in range(start, min(start + batch_size, len(img_paths))):
                if not osp.isfile(img_paths[idx]):
                    raise FileNotFoundError(f'image {img_paths[idx]!r} does not exist')
                item = self.pipeline(dict(img_path=img_paths[idx], sample_idx=idx))
                self.recorder.check_input(item['inputs'].shape[-2:], img_paths[idx])
                items.append(item)
            with torch.no_grad():
                outputs = self.model.test_step(pseudo_collate(items))
            for sample in outputs:
                draw = draw_dir if sample.sample_idx < num_draw else None
                records.append(self.recorder(sample, draw))
                if progress is not None:
                    progress.update()
        return records


def localize_folder(config: Union[str, Config], checkpoint: Optional[str],
                    img_dir: str, out_file: str, setting: Setting = 'downstream',
                    draw: int = 0, draw_dir: Optional[str] = None,
                    batch_size: int = 1, device: str = 'auto',
                    cfg_options: Optional[dict] = None) -> List[dict]:
    """Run AnchorNet + LSP on every image under ``img_dir`` and write one
    record per image to ``out_file`` (JSON lines, sorted file order).

    Args:
        draw (int): draw the first ``draw`` images into ``draw_dir``
            (default: ``<out_file folder>/vis``).
        Others: see :class:`LSPInferencer`.

    Returns:
        list[dict]: the records written.
    """
    paths = list_images(img_dir)
    if draw and draw_dir is None:
        draw_dir = osp.join(osp.dirname(osp.abspath(out_file)), 'vis')
    inferencer = LSPInferencer(config, checkpoint, setting=setting, device=device,
                               cfg_options=cfg_options)
    records = inferencer(paths, batch_size=batch_size, draw_dir=draw_dir,
                         num_draw=draw)
    write_lsp_records(records, out_file)
    return records
