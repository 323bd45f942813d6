"""The toy shapes set in VOC's layout as an mmdet dataset."""
from typing import List, Optional

from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmfsod.utils.toy_shapes import TOY_SHAPES_CLASSES
from mmfsod.utils.toy_voc import generate_toy_voc
from .few_shot_voc import FewShotVOCDataset
from .toy_shapes import _PALETTE


@DATASETS.register_module()
class ToyShapesVOCDataset(FewShotVOCDataset):
    """The toy shapes set written as VOC XML (see :mod:`mmfsod.utils.toy_voc`).

    Args:
        generate (dict, optional): if given, the set is generated under
            ``data_root`` on first use with these generator arguments
            (``num_train``, ``num_val``, ``seed``, ...), as
            :class:`ToyShapesDataset` does. ``None`` reads what is there.
        **kwargs: as :class:`FewShotVOCDataset` (``ann_file`` e.g.
            ``'VOC2007/ImageSets/Main/trainval.txt'``); with ``classes=None``
            all 12 toy classes. The split is ``TOY_VOC_SPLIT``
            (:mod:`~mmfsod.detection.datasets.voc_splits`), given as
            ``class_splits``.
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
            if generate_toy_voc(self.data_root, **self.generate) == 'generated':
                print_log(f'generated the toy VOC set in {self.data_root} '
                          f'({self.generate})', logger='current')
        return super().load_data_list()
