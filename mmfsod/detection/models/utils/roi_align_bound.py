"""The 32-bit index bound of mmcv's RoIAlign, and the class chunk that keeps
GCN-FSOD's test forward within it.

mmcv 2.1's RoIAlign kernels index their output with ``int``: the CUDA
launcher passes ``output.numel()`` as an ``int`` and the kernel's grid-stride
loop ``for (int i = ...; i < n; i += blockDim.x * gridDim.x)`` (at most 4096
blocks of 512 threads) must not step past 2^31 - 1; the CPU kernel's
offsets are ``int`` too. Beyond it the output is silently wrong or the
launch fails. One call may therefore produce at most 2^31 - 2^21 elements
(:data:`ROI_ALIGN_MAX_NUMEL`).

GCN-FSOD tests each query against every class: ``class_chunk`` classes x
the batch's images are the pairs of one forward, and the RoI head pools all
their proposals at once: ``pairs x proposals per pair x channels x out_h x
out_w`` elements. With the COCO configs (100 proposals per pair, res4's 1024
channels, 14 x 14) a pair is 20,070,400 elements, so at most 106 pairs fit
one call: 80 classes at test batch 1 do, at batch 2 (160 pairs, 3.2e9)
they do not.
"""
from typing import Optional, Sequence, Tuple, Union

#: the most output elements one RoIAlign call may produce (2^31 - 2^21: the
#: int index plus the CUDA kernel's largest grid stride stays below 2^31)
ROI_ALIGN_MAX_NUMEL = 2**31 - 4096 * 512

Size = Union[int, Sequence[int]]


def _pair(size: Size) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def roi_align_limit(limit: Optional[int] = None) -> int:
    """``limit`` or, when None, :data:`ROI_ALIGN_MAX_NUMEL` (read at call
    time, so a test can lower it)."""
    return ROI_ALIGN_MAX_NUMEL if limit is None else int(limit)


def roi_align_numel(num_rois: int, channels: int, output_size: Size) -> int:
    """Elements of RoIAlign's output (num_rois, channels, out_h, out_w)."""
    out_h, out_w = _pair(output_size)
    return int(num_rois) * int(channels) * out_h * out_w


def max_rois_per_call(channels: int, output_size: Size, limit: Optional[int] = None) -> int:
    """The most RoIs one RoIAlign call may pool."""
    return roi_align_limit(limit) // roi_align_numel(1, channels, output_size)


def max_class_chunk(num_imgs: int, rois_per_pair: int, channels: int, output_size: Size,
                    limit: Optional[int] = None) -> int:
    """The most classes one batched test forward may pair with ``num_imgs``
    query images when each pair has up to ``rois_per_pair`` RoIs (0: not
    even one class fits)."""
    per_class = max(int(num_imgs), 1) * max(int(rois_per_pair), 1)
    return max_rois_per_call(channels, output_size, limit) // per_class


def check_roi_align_numel(num_rois: int, channels: int, output_size: Size, where: str,
                          hint: str, limit: Optional[int] = None) -> None:
    """Raise ValueError, naming ``where`` and the ``hint`` (the config keys
    to lower), when one RoIAlign call would pass the bound."""
    numel, bound = roi_align_numel(num_rois, channels, output_size), roi_align_limit(limit)
    if numel > bound:
        out_h, out_w = _pair(output_size)
        raise ValueError(
            f'{where}: RoIAlign over {num_rois} RoIs x {channels} channels x {out_h}x{out_w} '
            f'= {numel:,} output elements, above the {bound:,} that mmcv\'s 32-bit indexing '
            f'allows in one call (at most {max_rois_per_call(channels, output_size, bound)} '
            f'RoIs); {hint}')
