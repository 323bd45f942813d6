"""Training-set semantic patches for fine-tuning downstream classifiers.

Paper section 4.3: the downstream classifiers are "fine-tuned on training
patches". The patches are those LSP (Algorithm 1) selects on the training
images with the downstream setting; the LSP hook writes them, one JSON line
per image (the *LSP patch record*)::

    {"img_path": ..., "sample_idx": int, "input_size": [H, W],
     "ori_shape": [h0, w0], "gt_label": int | null, "pred_label": int,
     "branch": "B63" | "B95" | "B111", "branch_scores": {...},
     "setting": {"k_max": int, "iou_thr": float, "coverage": float},
     "patches": [{"box": [x1, y1, x2, y2], "ori_box": [...],
                  "activation": float}, ...]}

``box`` is half-open, in pixels of the network input (``0..W``, ``0..H``),
and the patches come in LSP selection order (descending activation).

The ImageNet training split gives ~17 M patches: they are held as numpy
columns (:class:`~mmfsod.classification.datasets.patch_table.PatchTable`,
about 22 bytes a patch) and each item's dict is built when it is asked for,
instead of a Python dict per patch (~1 kB each, ~15 GB per rank).
"""
import glob
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import BatchSampler, Sampler

from mmfsod.utils.bad_images import SkipBadImagesMixin
from .patch_table import PatchTable, PatchTableBuilder

RECORD_KEYS = ('img_path', 'input_size', 'gt_label', 'patches')


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@DATASETS.register_module()
class LSPPatchDataset(SkipBadImagesMixin, BaseDataset):
    """One item per LSP patch of a JSON-lines LSP patch record file.

    Each item is one patch of one image, labelled with the image's
    ``gt_label``: ``img_path``, ``gt_label``, ``patch_box`` (``[x1, y1, x2,
    y2]`` in network-input pixels), ``input_size`` (``(H, W)``, the size the
    localizer saw), ``patch_size`` (``(y2 - y1, x2 - x1)``, used by
    :class:`PatchSizeBatchSampler`), ``branch``, ``image_idx`` (the record's
    ``sample_idx``, else its line's index), ``patch_idx`` (rank in LSP order)
    and ``activation``. The pipeline must load the image, resize it to
    ``input_size`` exactly as the localizer's test pipeline did, and crop the
    box (:class:`~mmfsod.classification.datasets.transforms.CropPatch`), e.g.
    ``[LoadImageFromFile, Resize(scale=(224, 224)), CropPatch, RandomFlip,
    PackInputs]``.

    Args:
        ann_file (str): the ``.jsonl`` file (relative to ``data_root``); a
            glob pattern takes its last match in sorted order, e.g.
            ``'work_dirs/<lsp run>/*/lsp_patches_downstream.jsonl'`` the
            newest timestamped run of the LSP hook.
        max_patches (int, optional): keep only the first ``max_patches``
            patches of every image (the most activated). None keeps all.
        data_root (str): joined to ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): prefix joined to *relative* ``img_path``
            values; ``''`` (default) uses them as written (they are the paths
            of the localizer's data samples).
        serialize_data: not used: the patches are numpy columns already,
            shared by forked workers (mmengine's serialisation would build
            every item's dict first).
        skip_bad_images (bool): replace an item whose image is missing or
            corrupt by the next one, counted and logged
            (:class:`~mmfsod.utils.bad_images.SkipBadImagesMixin`); by
            default such an image is a ``BadImageError`` naming the file
            and this dataset. Defaults to False.
        **kwargs: as :class:`mmpretrain.datasets.BaseDataset` (``pipeline``,
            ``classes``/``metainfo``, ``test_mode``, ...).

    Raises (on loading): ``FileNotFoundError`` for a missing ``ann_file``;
    ``ValueError`` naming the file and line for a line that is not JSON, lacks
    a key of :data:`RECORD_KEYS` or a patch's ``box``, has no label, a label
    outside ``classes``, or a box that is empty or outside ``input_size``.
    """

    def __init__(self,
                 ann_file: str,
                 max_patches: Optional[int] = None,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 **kwargs) -> None:
        if max_patches is not None and (not _is_int(max_patches) or max_patches < 1):
            raise ValueError(f'LSPPatchDataset: max_patches must be None or an int '
                             f'>= 1, got {max_patches!r}')
        self.max_patches = max_patches
        kwargs['serialize_data'] = False
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix, **kwargs)

    def _error(self, line_no: int, message: str) -> ValueError:
        return ValueError(f'LSPPatchDataset: {self.ann_file}, line {line_no}: '
                          f'{message}')

    def _resolve_ann_file(self) -> str:
        """``ann_file``, or the last match (in sorted order, i.e. the newest
        timestamped run directory) of a glob pattern."""
        if not any(c in self.ann_file for c in '*?['):
            return self.ann_file
        matches = sorted(glob.glob(self.ann_file))
        if not matches:
            raise FileNotFoundError(
                f'LSPPatchDataset: no file matches ann_file {self.ann_file!r}; write '
                'the LSP patch records of the training set first (the LSP hook, '
                'tools/test.py <lsp config> <AnchorNet checkpoint> with '
                'test_dataloader.dataset.split=train)')
        print_log(f'LSPPatchDataset: {self.ann_file} -> {matches[-1]}',
                  logger='current')
        return matches[-1]

    def load_data_list(self) -> PatchTable:
        self.ann_file = self._resolve_ann_file()
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'LSPPatchDataset: ann_file {self.ann_file!r} does not exist; write '
                'the LSP patch records of the training set first (the LSP hook, '
                'tools/test.py <lsp config> <AnchorNet checkpoint> with '
                'test_dataloader.dataset.split=train)')
        num_classes = len(self.CLASSES) if self.CLASSES is not None else None
        prefix = self.data_prefix.get('img_path', '') or ''
        table = PatchTableBuilder()
        with open(self.ann_file, encoding='utf-8') as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise self._error(line_no, f'not valid JSON ({err})') from None
                self._parse_record(record, line_no, prefix, num_classes, table)
        return table.build()

    def _parse_record(self, record, line_no: int, prefix: str,
                      num_classes: Optional[int], table: PatchTableBuilder) -> None:
        """Check one record and add its image and patches to ``table``."""
        if not isinstance(record, dict):
            raise self._error(line_no, f'a record must be a JSON object, got '
                              f'{type(record).__name__}')
        missing = [k for k in RECORD_KEYS if k not in record]
        if missing:
            raise self._error(line_no, f'missing key(s) {missing} (an LSP patch record '
                              f'has {list(RECORD_KEYS)}, ...)')
        input_size = record['input_size']
        if (not isinstance(input_size, (list, tuple)) or len(input_size) != 2
                or not all(_is_int(v) and v > 0 for v in input_size)):
            raise self._error(line_no, f'input_size must be [H, W] of positive ints, '
                              f'got {input_size!r}')
        H, W = input_size
        label = record['gt_label']
        if label is None:
            raise self._error(line_no, 'gt_label is null; fine-tuning patches need '
                              'labelled images')
        in_range = _is_int(label) and 0 <= label < (num_classes or float('inf'))
        if not in_range:
            raise self._error(line_no, f'gt_label {label!r} is not a class index'
                              + (f' in [0, {num_classes})' if num_classes else ''))
        patches = record['patches']
        if not isinstance(patches, list):
            raise self._error(line_no, f'patches must be a list, got '
                              f'{type(patches).__name__}')
        img_path = record['img_path']
        if prefix and not osp.isabs(img_path):
            img_path = osp.join(prefix, img_path)
        image_idx = record.get('sample_idx', line_no - 1)
        if not _is_int(image_idx):
            raise self._error(line_no, f'sample_idx must be an int, got {image_idx!r}')
        branch = record.get('branch')
        if branch is not None and not isinstance(branch, str):
            raise self._error(line_no, f'branch must be a string, got {branch!r}')
        table.add_image(img_path, int(label), (H, W), branch, image_idx)
        for j, patch in enumerate(patches[:self.max_patches]):
            if not isinstance(patch, dict) or 'box' not in patch:
                raise self._error(line_no, f'patch {j} has no "box"')
            box = patch['box']
            if (not isinstance(box, (list, tuple)) or len(box) != 4
                    or not all(_is_int(v) for v in box)):
                raise self._error(line_no, f'patch {j}: box must be [x1, y1, x2, y2] '
                                  f'of ints, got {box!r}')
            x1, y1, x2, y2 = box
            if not (0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H):
                raise self._error(line_no, f'patch {j}: box {box} is empty or outside '
                                  f'the {H}x{W} network input (input_size)')
            activation = patch.get('activation')
            if activation is not None and (isinstance(activation, bool)
                                           or not isinstance(activation, (int, float))):
                raise self._error(line_no, f'patch {j}: activation must be a number, '
                                  f'got {activation!r}')
            table.add_patch(j, box, activation)

    def get_data_info(self, idx: int) -> dict:
        """The patch's data info (built from the columns; no copy needed)."""
        if not isinstance(self.data_list, PatchTable):
            return super().get_data_info(idx)
        info = self.data_list[idx]
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    def _get_unserialized_subset(self, indices: Union[int, Sequence[int]]):
        """``indices`` (mmengine's dataset argument) as a smaller table."""
        if not isinstance(self.data_list, PatchTable):
            return super()._get_unserialized_subset(indices)
        if isinstance(indices, int):
            return self.data_list[:indices] if indices >= 0 else self.data_list[indices:]
        return self.data_list.take(indices)

    def get_gt_labels(self) -> np.ndarray:
        """The label of every patch (int64), without building the items."""
        if not self._fully_initialized:
            self.full_init()
        if isinstance(self.data_list, PatchTable):
            return self.data_list.gt_labels()
        return super().get_gt_labels()


@DATA_SAMPLERS.register_module()
class PatchSizeBatchSampler(BatchSampler):
    """Batches whose items all have the same patch size.

    Patches of different branches (63, 95, 111 px) cannot be stacked without
    padding; this batch sampler keeps one bucket per size, in the order the
    wrapped sampler yields indices (e.g. mmengine's shuffled
    ``DefaultSampler``), and yields a bucket as soon as it holds
    ``batch_size`` indices. At the end of the pass the incomplete buckets
    (largest first) fill up the pass to a fixed number of batches:
    ``ceil(len(sampler) / batch_size)`` (``floor`` with ``drop_last``).

    That number depends only on ``len(sampler)``, which mmengine's samplers
    make equal on every rank, so all ranks run the same number of iterations
    (ranks that grouped their own indices into different numbers of batches
    would leave one rank waiting in a DDP all-reduce). The price: a pass can
    leave out up to (number of sizes - 1) incomplete batches, others each
    pass as the shuffle changes, and with ``drop_last`` some incomplete
    batches may be used to reach the count.
    Use it as ``train_dataloader.batch_sampler=dict(type='PatchSizeBatchSampler')``.

    Args:
        sampler (Sampler): the index sampler; ``sampler.dataset`` must give
            ``get_data_info(idx)[size_key]``.
        batch_size (int): items per batch.
        drop_last (bool): count ``floor`` instead of ``ceil`` batches.
        size_key (str): data-info key of the size. Default ``'patch_size'``.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False,
                 size_key: str = 'patch_size') -> None:
        if not isinstance(sampler, Sampler):
            raise TypeError(f'PatchSizeBatchSampler: sampler must be a Sampler, got '
                            f'{type(sampler).__name__}')
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f'PatchSizeBatchSampler: batch_size must be an int >= 1, '
                             f'got {batch_size!r}')
        if not hasattr(sampler, 'dataset'):
            raise TypeError('PatchSizeBatchSampler: the sampler has no `dataset` to '
                            'read patch sizes from')
        if getattr(sampler, 'round_up', True) is False and getattr(sampler, 'world_size', 1) > 1:
            raise ValueError('PatchSizeBatchSampler: the sampler has round_up=False, so ranks '
                             'get different numbers of indices and would run different '
                             'numbers of iterations; use round_up=True')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.size_key = size_key

    def _size(self, idx: int) -> Tuple[int, ...]:
        info = self.sampler.dataset.get_data_info(idx)
        if self.size_key not in info:
            raise KeyError(f'PatchSizeBatchSampler: item {idx} of '
                           f'{type(self.sampler.dataset).__name__} has no '
                           f'{self.size_key!r}')
        size = info[self.size_key]
        return tuple(size) if isinstance(size, (list, tuple)) else (size, )

    def __iter__(self) -> Iterator[List[int]]:
        num_batches = len(self)
        buckets: Dict[Tuple[int, ...], List[int]] = defaultdict(list)
        done = 0
        for idx in self.sampler:
            bucket = buckets[self._size(idx)]
            bucket.append(idx)
            if len(bucket) == self.batch_size:
                # full batches never exceed the count: sum(floor(c_s / bs))
                # <= floor(len / bs)
                yield bucket[:]
                done += 1
                bucket.clear()
        # incomplete ones, largest first, up to the count (there are enough:
        # sum(ceil(c_s / bs)) >= ceil(len / bs))
        rest = sorted((b for b in buckets.values() if b), key=lambda b: (-len(b), b[0]))
        yield from (b[:] for b in rest[:num_batches - done])

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
