"""Check that the mmfsod stack imports and that mmcv's compiled ops run on
every device torch sees; print the versions.

Run by ``make setup`` (tools/misc/setup_env.sh) as its last step. Exits
non-zero, naming the package and the reason, when anything does not import,
and with the command that rebuilds mmcv when its ops (nms, RoIAlign) fail or
give wrong numbers on a device (the CPU, then each ``cuda:N``).
"""
import importlib
import os
from importlib import metadata
import sys
import traceback
from typing import Callable, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmcv_cuda import find_cuda_home, rebuild_command, toolkit_hint  # noqa: E402

CHECKS = [
    # (module to import, what it proves)
    ('torch', 'PyTorch'),
    ('torchvision', 'torchvision (mmpretrain imports it at module level)'),
    ('mmengine', 'mmengine'),
    ('mmcv', 'mmcv'),
    ('mmcv.ops', 'mmcv compiled ops (nms, RoIAlign, ...)'),
    ('mmdet.models', 'mmdet models'),
    ('mmpretrain.models', 'mmpretrain models'),
    ('pycocotools.coco', 'pycocotools'),
    ('mmfsod', 'mmfsod'),
]


def visible_devices() -> List[str]:
    """'cpu' and each 'cuda:N' torch can use."""
    import torch
    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ['cpu'] + [f'cuda:{i}' for i in range(cuda)]


def check_nms(device: str) -> None:
    """mmcv.ops.nms on ``device``: box 1 (0.95) suppresses box 0 (IoU 0.9),
    box 2 overlaps box 1 by 0.16 and stays."""
    import torch
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 9.], [5., 5., 15., 15.]],
                         device=device)
    scores = torch.tensor([0.9, 0.95, 0.5], device=device)
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    expected = torch.tensor([0.95, 0.5])
    if keep.tolist() != [1, 2] or not torch.allclose(dets[:, 4].cpu(), expected):
        raise AssertionError(f'nms kept {keep.tolist()} with scores {dets[:, 4].tolist()}, '
                             'expected [1, 2] with [0.95, 0.5]')


def check_roi_align(device: str) -> None:
    """mmcv.ops.roi_align on ``device`` over the ramp f(x, y) = x + 100 c:
    bilinear sampling of a linear map is exact, so each bin's average is the
    ramp at the bin centre (aligned=True: pixel centres at +0.5; the box
    x 2..10 is the bins [1.5, 5.5] and [5.5, 9.5]: 3.5 and 7.5)."""
    import torch
    from mmcv.ops import roi_align
    ramp = torch.arange(16, dtype=torch.float32, device=device).repeat(16, 1)  # (16, 16)
    feat = torch.stack([ramp, ramp + 100.])[None]  # (1, 2, 16, 16)
    rois = torch.tensor([[0., 2., 2., 10., 10.]], device=device)  # (batch, x1, y1, x2, y2)
    out = roi_align(feat, rois, output_size=(2, 2), spatial_scale=1.0, sampling_ratio=2,
                    pool_mode='avg', aligned=True)
    expected = torch.tensor([[3.5, 7.5], [3.5, 7.5]])
    expected = torch.stack([expected, expected + 100.])[None]  # (1, 2, 2, 2)
    if out.shape != expected.shape or not torch.allclose(out.cpu(), expected, atol=1e-4):
        raise AssertionError(f'roi_align gave {out.cpu().tolist()}, expected '
                             f'{expected.tolist()}')


DEVICE_CHECKS = (check_nms, check_roi_align)


def check_devices(devices: Sequence[str],
                  checks: Optional[Sequence[Callable[[str], None]]] = None
                  ) -> Dict[str, List[str]]:
    """Run every check (default: :data:`DEVICE_CHECKS`) on every device:
    device -> its failures."""
    checks = DEVICE_CHECKS if checks is None else checks
    failures: Dict[str, List[str]] = {}
    for device in devices:
        for check in checks:
            try:
                check(device)
            except Exception as exc:  # noqa: BLE001 - report every kind of failure
                failures.setdefault(device, []).append(
                    f'{check.__name__}: {type(exc).__name__}: {exc}')
    return failures


def rebuild_advice(failures: Dict[str, List[str]]) -> str:
    """How to rebuild mmcv so that the failing devices work."""
    import torch
    if not any(d.startswith('cuda') for d in failures):
        return (f'rebuild mmcv 2.1.0 with its ops: MMCV_WITH_OPS=1 {sys.executable} -m pip install '
                '--no-build-isolation --no-binary mmcv --no-cache-dir --force-reinstall '
                '--no-deps mmcv==2.1.0 (or rerun `make setup`)')
    home, _ = find_cuda_home(torch_cuda=torch.version.cuda)
    return ("mmcv's CUDA ops do not work: rebuild them with\n    "
            f'{rebuild_command(home, sys.executable)}\n'
            f'(or rerun `make setup`, which does this where torch sees a GPU); '
            f'{"CUDA_HOME is the toolkit found" if home else toolkit_hint(torch.version.cuda)}')


def main() -> int:
    failed = []
    for name, what in CHECKS:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every kind of failure
            failed.append(name)
            print(f'[check_env] FAILED: import {name} ({what}): '
                  f'{type(exc).__name__}: {exc}', file=sys.stderr)
            traceback.print_exc(limit=3)
    if failed:
        print(f'[check_env] {len(failed)} import(s) failed: {", ".join(failed)}',
              file=sys.stderr)
        return 1

    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import torch
    import torchvision
    from mmcv.ops import get_compiling_cuda_version

    import mmfsod

    # Real calls into the compiled ops, not just an import, on every device.
    devices = visible_devices()
    failures = check_devices(devices)
    if failures:
        for device, errors in failures.items():
            for error in errors:
                print(f'[check_env] FAILED on {device}: mmcv.ops {error}', file=sys.stderr)
        print(f'[check_env] {rebuild_advice(failures)}', file=sys.stderr)
        return 1

    cuda = torch.cuda.is_available()
    rows = [
        ('python', sys.version.split()[0]),
        ('torch', f'{torch.__version__} (CUDA available: {cuda})'),
        ('torchvision', torchvision.__version__),
        ('mmengine', mmengine.__version__),
        ('mmcv', f'{mmcv.__version__} (ops OK on {", ".join(devices)}; CUDA ops: '
                 f'{get_compiling_cuda_version()})'),
        ('mmdet', mmdet.__version__),
        ('mmpretrain', mmpretrain.__version__),
        ('pycocotools', metadata.version('pycocotools')),
        ('mmfsod', f'{mmfsod.__version__} ({os.path.dirname(mmfsod.__file__)})'),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f'{key:<{width}}  {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
