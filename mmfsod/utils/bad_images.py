"""Corrupt or missing images in the project's datasets.

By default an image that cannot be read stops the run with a
:class:`BadImageError` naming the file and the dataset (mmcv's own message
names neither the dataset nor what is wrong). With ``skip_bad_images=True``
on the dataset, the item is replaced by the next readable one (index
``idx + 1, idx + 2, ...``: no random draw, so the replacement is the same
on every run and worker), every replacement is counted in
``dataset.num_bad_images`` and logged as a warning with the running count.

Whether the image is to blame is decided independently of the error the
pipeline raised: the file is read and decoded again
(:func:`image_problem`); any other error is raised unchanged.
"""
from typing import Optional

from mmengine.logging import print_log


class BadImageError(RuntimeError):
    """An image of a dataset is missing or cannot be decoded."""


def image_problem(path: Optional[str]) -> Optional[str]:
    """What is wrong with the image file ``path`` (missing, empty, not
    decodable), or None if mmcv decodes it."""
    import mmcv
    from mmengine import fileio
    if not path:
        return None
    try:
        if not fileio.exists(path):
            return 'does not exist'
        data = fileio.get(path)
    except Exception as err:  # noqa: BLE001 - any reading error is the image's
        return f'cannot be read ({type(err).__name__}: {err})'
    if not data:
        return 'is empty (0 bytes)'
    try:
        img = mmcv.imfrombytes(data)
    except Exception as err:  # noqa: BLE001
        return f'cannot be decoded ({type(err).__name__}: {err})'
    if img is None:
        return f'cannot be decoded (corrupt or not an image, {len(data)} bytes)'
    return None


def bad_image_error(dataset_name: str, path: str, problem: str, what: str,
                    cause: BaseException = None) -> BadImageError:
    return BadImageError(
        f'{dataset_name}: image {path} {problem} ({what}); fix or remove the file, '
        'or set skip_bad_images=True on the dataset to replace such items')


def log_skipped(dataset, err: BadImageError) -> None:
    """Count one replaced item on ``dataset`` and log it."""
    dataset.num_bad_images += 1
    reason = str(err).split('; fix or remove', 1)[0]
    print_log(f'skip_bad_images: {reason}; item replaced by the next one '
              f'({dataset.num_bad_images} replaced so far in this process)',
              logger='current', level=30)


class SkipBadImagesMixin:
    """Adds ``skip_bad_images`` to an mmengine ``BaseDataset`` subclass
    (put it first among the bases).

    Args:
        skip_bad_images (bool): replace an item whose image is missing or
            corrupt by the next readable one, counting it in
            ``num_bad_images``. Defaults to False: :class:`BadImageError`.
    """

    def __init__(self, *args, skip_bad_images: bool = False, **kwargs) -> None:
        if not isinstance(skip_bad_images, bool):
            raise TypeError(f'{type(self).__name__}.skip_bad_images must be a bool, '
                            f'got {skip_bad_images!r}')
        self.skip_bad_images = skip_bad_images
        self.num_bad_images = 0
        super().__init__(*args, **kwargs)

    def prepare_data(self, idx):
        try:
            return super().prepare_data(idx)
        except BadImageError:
            raise
        except Exception as exc:
            path = self.get_data_info(idx).get('img_path')
            problem = image_problem(path)
            if problem is None:
                raise
            raise bad_image_error(type(self).__name__, path, problem,
                                  f'item {idx}') from exc

    def __getitem__(self, idx: int):
        if not self.skip_bad_images:
            return super().__getitem__(idx)
        num = len(self)
        for k in range(num):
            try:
                return super().__getitem__((idx + k) % num)
            except BadImageError as err:
                log_skipped(self, err)
        raise BadImageError(f'{type(self).__name__}: no item has a readable image')
