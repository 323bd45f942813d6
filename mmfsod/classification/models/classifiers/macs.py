"""Multiply-accumulates of a network, counted by mmengine's FlopAnalyzer."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer

# The FlopAnalyzer operators that are multiply-accumulates.
MAC_OPS = ('conv', 'linear', 'addmm', 'matmul', 'mm', 'bmm', 'einsum')


def count_macs(module: nn.Module, input_shape: Sequence[int],
               device: Optional[torch.device] = None) -> int:
    """Multiply-accumulates of one forward of ``module`` on a zero input.

    Counted by :class:`mmengine.analysis.FlopAnalyzer` (which counts a fused
    multiply-add as one operation), summed over the operators of
    :data:`MAC_OPS` only, with ``module`` in eval mode and
    without gradients; the module's training flag is restored afterwards.
    ``module(x)`` must run the whole network (an mmpretrain classifier's
    ``mode='tensor'``).

    Args:
        module (nn.Module): the network.
        input_shape (Sequence[int]): ``(N, C, H, W)`` of the input.
        device (torch.device, optional): where the input is made; default the
            device of the module's first parameter (CPU without parameters).

    Returns:
        int: the MACs of one forward on the whole ``input_shape`` batch.
    """
    if device is None:
        param = next(module.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
    x = torch.zeros(tuple(int(v) for v in input_shape), device=device)  # (N, C, H, W)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(module, (x, ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            return int(sum(v for op, v in analyzer.by_operator().items()
                           if op in MAC_OPS))
    finally:
        module.train(was_training)
