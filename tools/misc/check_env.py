"""Check that the mmfsod stack imports, and print its versions.

Run by ``make setup`` (tools/misc/setup_env.sh) as its last step. Exits
non-zero, naming the package and the reason, when anything does not import.
"""
import importlib
import os
from importlib import metadata
import sys
import traceback

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
    from mmcv.ops import nms

    import mmfsod

    # A real call into the compiled ops, not just an import.
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    if keep.tolist() != [0, 2]:
        print(f'[check_env] FAILED: mmcv.ops.nms returned {keep.tolist()}, '
              'expected [0, 2]', file=sys.stderr)
        return 1

    cuda = torch.cuda.is_available()
    rows = [
        ('python', sys.version.split()[0]),
        ('torch', f'{torch.__version__} (CUDA available: {cuda})'),
        ('torchvision', torchvision.__version__),
        ('mmengine', mmengine.__version__),
        ('mmcv', f'{mmcv.__version__} (ops OK)'),
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
