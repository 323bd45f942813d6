"""The toy shapes detection set as an mmdet dataset."""
from typing import List, Optional

from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmfsod.utils.toy_shapes import TOY_SHAPES_CLASSES, generate_toy_shapes

from .few_shot_coco import FewShotCocoDataset

# One distinct colour per category for visualisation (RGB).
_PALETTE = [(220, 20, 60), (0, 160, 40), (0, 60, 230), (230, 190, 0), (200, 0, 200),
            (0, 190, 200), (250, 120, 0), (120, 120, 120), (110, 30, 170),
            (120, 200, 0), (250, 110, 170), (20, 30, 110)]


@DATASETS.register_module()
class ToyShapesDataset(FewShotCocoDataset):
    """COCO-format toy shapes set (see :mod:`mmfsod.utils.toy_shapes`).

    Args:
        generate (dict, optional): if given, the set is generated under
            ``data_root`` on first use with these generator arguments
            (``num_train``, ``num_val``, ``seed``, ...); an existing set made
            with the same arguments is reused, one made with other arguments
            is an error naming both. ``None`` reads what is there.
        **kwargs: as :class:`FewShotCocoDataset`; with ``classes=None``
            (the default) all 12 toy classes. The toy set has no built-in
            base/novel split: a few-shot config declares one as
            ``class_splits`` (see ``configs/_base_/datasets/fsod_toy-shapes.py``).
    """

    METAINFO = {'classes': TOY_SHAPES_CLASSES, 'palette': _PALETTE}

    def __init__(self, *args, generate: Optional[dict] = None, **kwargs) -> None:
        self.generate = generate
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        if self.generate is not None:
            if not self.data_root:
                raise ValueError(f'{type(self).__name__}: `generate` needs `data_root`, '
                                 'the directory to write the set to')
            status = generate_toy_shapes(self.data_root, **self.generate)
            if status == 'generated':
                print_log(f'generated the toy shapes set in {self.data_root} '
                          f'({self.generate})', logger='current')
        return super().load_data_list()
