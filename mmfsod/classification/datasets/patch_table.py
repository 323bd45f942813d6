"""The patches of an LSP patch record file as numpy columns.

``LSPPatchDataset`` has one item per patch: on the ImageNet training split
about 17 M of them (1.28 M images x 24/10/8 patches). A Python dict per patch
costs about 1 kB (and mmengine's ``serialize_data`` pickles all of them once
more before freeing the list), i.e. ~15 GB per rank. :class:`PatchTable`
keeps them as columns instead -- per image: path (one UTF-8 blob and
offsets), label, input size, branch, ``sample_idx``; per patch: its image,
rank, box (int16 where it fits) and activation, about 22 bytes -- and builds
an item's dict when it is asked for. Forked dataloader workers share the
columns (numpy buffers are not touched by reference counting).
"""
from array import array
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np


class PatchTableBuilder:
    """Collects images and patches in typed buffers (no Python object per
    patch); :meth:`build` turns them into a :class:`PatchTable`."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.path_start = array('q', [0])
        self.label = array('q')
        self.input_size = array('q')
        self.branch = array('q')
        self.image_idx = array('q')
        self.branches: List[Optional[str]] = []
        self._branch_codes = {}
        self.patch_image = array('i')  # int32: 16 bytes of box, 32 per patch in all
        self.patch_idx = array('i')
        self.box = array('i')
        self.activation = array('d')

    def add_image(self, img_path: str, label: int, input_size: Sequence[int],
                  branch: Optional[str], image_idx: int) -> None:
        self.blob += img_path.encode('utf-8')
        self.path_start.append(len(self.blob))
        self.label.append(label)
        self.input_size.extend(input_size)
        if branch not in self._branch_codes:
            self._branch_codes[branch] = len(self.branches)
            self.branches.append(branch)
        self.branch.append(self._branch_codes[branch])
        self.image_idx.append(image_idx)

    def add_patch(self, patch_idx: int, box: Sequence[int],
                  activation: Optional[float]) -> None:
        """A patch of the image added last."""
        self.patch_image.append(len(self.label) - 1)
        self.patch_idx.append(patch_idx)
        self.box.extend(box)
        self.activation.append(np.nan if activation is None else activation)

    @staticmethod
    def _narrow(buf: array, shape=(-1, )) -> np.ndarray:
        """``buf`` as the smallest signed integer dtype that holds it."""
        values = np.frombuffer(buf, np.dtype(buf.typecode)).reshape(shape)
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
                return values.astype(dtype)
        return values.copy()

    def build(self) -> 'PatchTable':
        table = PatchTable(
            paths=np.frombuffer(bytes(self.blob), np.uint8),
            path_start=np.frombuffer(self.path_start, np.int64).copy(),
            label=np.frombuffer(self.label, np.int64).copy(),
            input_size=self._narrow(self.input_size, (-1, 2)),
            branch=self._narrow(self.branch), branches=tuple(self.branches),
            image_idx=np.frombuffer(self.image_idx, np.int64).copy(),
            patch_image=self._narrow(self.patch_image), patch_idx=self._narrow(self.patch_idx),
            box=self._narrow(self.box, (-1, 4)),
            activation=np.frombuffer(self.activation, np.float64).copy())
        self.__init__()  # free the buffers
        return table


class PatchTable:
    """Sequence of patch data infos stored as columns (see the module doc).

    ``table[i]`` is the dict ``LSPPatchDataset`` documents (``img_path``,
    ``gt_label``, ``patch_box``, ``input_size``, ``patch_size``, ``branch``,
    ``image_idx``, ``patch_idx``, ``activation``), built on access; a slice
    or :meth:`take` is a table of those patches (the image columns shared).
    An activation given as null is stored as NaN and returned as None.
    """

    IMAGE_COLUMNS = ('paths', 'path_start', 'label', 'input_size', 'branch', 'image_idx')
    PATCH_COLUMNS = ('patch_image', 'patch_idx', 'box', 'activation')

    def __init__(self, branches: tuple, **columns: np.ndarray) -> None:
        self.branches = branches
        for name in self.IMAGE_COLUMNS + self.PATCH_COLUMNS:
            setattr(self, name, columns[name])

    def __len__(self) -> int:
        return len(self.patch_image)

    def _subset(self, select) -> 'PatchTable':
        columns = {n: getattr(self, n) for n in self.IMAGE_COLUMNS}
        columns.update({n: getattr(self, n)[select] for n in self.PATCH_COLUMNS})
        return PatchTable(self.branches, **columns)

    def take(self, indices: Sequence[int]) -> 'PatchTable':
        """The table of the patches ``indices`` (in that order)."""
        return self._subset(np.asarray(indices, np.int64).reshape(-1))

    def __getitem__(self, idx: Union[int, slice]):
        if isinstance(idx, slice):
            return self._subset(idx)
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'patch index {idx} out of range for {n} patches')
        img = int(self.patch_image[idx])
        x1, y1, x2, y2 = self.box[idx].tolist()
        activation = float(self.activation[idx])
        start, end = self.path_start[img], self.path_start[img + 1]
        return dict(img_path=self.paths[start:end].tobytes().decode('utf-8'),
                    gt_label=int(self.label[img]), patch_box=[x1, y1, x2, y2],
                    input_size=tuple(self.input_size[img].tolist()),
                    patch_size=(y2 - y1, x2 - x1),
                    branch=self.branches[self.branch[img]],
                    image_idx=int(self.image_idx[img]), patch_idx=int(self.patch_idx[idx]),
                    activation=None if activation != activation else activation)

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self[i]

    def gt_labels(self) -> np.ndarray:
        """The label of every patch (its image's), int64."""
        return self.label[self.patch_image]

    @property
    def nbytes(self) -> int:
        """Bytes of the columns."""
        return sum(getattr(self, n).nbytes for n in self.IMAGE_COLUMNS + self.PATCH_COLUMNS)
