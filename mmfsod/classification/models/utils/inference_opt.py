"""Faster CPU inference of AnchorNet and the downstream classifiers, with the
same logits (to float rounding; the tests check 1e-4 on random inputs with
random BN statistics).

:func:`optimize_for_inference` transforms an eval-mode model in place and
returns it. The steps:

* ``fuse_bn``: mmcv's :func:`~mmcv.cnn.fuse_conv_bn` folds every BN into the
  convolution before it (AnchorNet: 54 BN layers; DenseNet's BN precede their
  convolutions and stay);
* depthwise 1x1 -> affine (AnchorNet, with ``fuse_bn``): AnchorNet has
  depthwise convolutions with 1x1 kernels (Table 1's five k=1 rows, B63's
  second layer, the attention bottlenecks). With one thread torch does not
  hand them to oneDNN but runs one tiny convolution per channel (784 + 576 a
  forward at test, plus the slicing and concatenation around them); after
  BN folding such a layer is a per-channel affine map, one ``addcmul``;
* ``skip_unused`` (AnchorNet): with ``test_with_attention=False`` (the
  paper's test) the attention bottlenecks are not computed at test
  (``AnchorNet.attention_at_test=False``), and the head computes the test
  logits by linearity from the pooled features and only the decided class's
  heatmaps (``AnchorNetHead.pooled_test_logits``), not the 1,000-channel
  logits maps (AnchorNet at 224: 0.450 -> 0.358 G MACs counted);
* ``channels_last``: NHWC weights (and so activations);
* ``compile``: ``'jit'`` traces each backbone once, freezes it
  (:func:`torch.jit.freeze`) and applies
  :func:`torch.jit.optimize_for_inference` (oneDNN with pre-packed weights,
  no weight reorder per call); the traced graph serves every input size
  (trace 2 s for ResNet-50, 11 s for AnchorNet here; torch 2.13 marks
  TorchScript deprecated and warns). ``'inductor'`` wraps the backbones in
  :func:`torch.compile` with freezing: one compilation per input shape
  (55 s for ResNet-50 on 6 x 63 px, one thread). Off by default.

Measured on the project's 2-core machine, shared with other jobs (load 5-8,
so absolute times are inflated; interleaved, same run, median ms, batch 1,
random weights), one thread:

=====================  =========  =====  =====  =====  =====
model                  AnchorNet  R50    R50    R50    R50
input                  224        224    6x63   3x95   2x111
=====================  =========  =====  =====  =====  =====
as built               106.8      230.7  184.0  183.4  152.9
fuse_bn (+ dw 1x1)     79.0       212.8  201.6  184.6  134.3
skip_unused            84.0
fuse_bn + skip_unused  60.1
channels_last                     219.8  160.0  159.8  139.5
fuse + channels_last   59.3       194.9  153.9  141.6  131.1
fuse + jit             49.6       182.4  114.5  112.1  117.8
jit (no fuse)                     186.7  116.4  115.0  111.5
fuse + cl + jit        55.1       186.1  113.0  115.2  124.3
fuse + inductor                          126 (jit 149, fuse 242; other run)
=====================  =========  =====  =====  =====  =====

(AnchorNet rows include ``skip_unused`` from "fuse_bn + skip_unused" on.)
``channels_last`` gains nothing once traced and is off by default.
"""
import copy
from typing import Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn

COMPILE_MODES = (False, 'jit', 'inductor')


class ChannelAffine(nn.Module):
    """``y = x * weight + bias`` per channel: a depthwise 1x1 convolution
    (with BN folded into it) as one element-wise op.

    Args:
        conv (nn.Conv2d): a depthwise ``1 x 1`` convolution, stride 1,
            padding 0, ``groups == in_channels == out_channels``.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not is_depthwise_1x1(conv):
            raise ValueError(f'ChannelAffine: {conv} is not a depthwise 1x1 conv')
        channels = conv.out_channels
        self.weight = nn.Parameter(conv.weight.detach().reshape(1, channels, 1, 1)
                                   .clone(), requires_grad=False)
        bias = conv.bias.detach() if conv.bias is not None else \
            conv.weight.new_zeros(channels)
        self.bias = nn.Parameter(bias.reshape(1, channels, 1, 1).clone(),
                                 requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, x, self.weight)  # (B, C, H, W)


def is_depthwise_1x1(module: nn.Module) -> bool:
    return (isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (1, 1)
            and tuple(module.stride) == (1, 1) and tuple(module.padding) == (0, 0)
            and module.groups == module.in_channels == module.out_channels
            and module.groups > 1)


def replace_depthwise_1x1(model: nn.Module) -> int:
    """Replace every depthwise 1x1 convolution by a :class:`ChannelAffine`;
    return how many."""
    count = 0
    for name, child in list(model.named_children()):
        if is_depthwise_1x1(child):
            setattr(model, name, ChannelAffine(child))
            count += 1
        else:
            count += replace_depthwise_1x1(child)
    return count


class TracedForward(nn.Module):
    """A frozen TorchScript trace of ``module``'s forward that still answers
    the original module's attributes (``geometry``, ``branch_names``...).

    AnchorNet's ``(feat, None)`` pairs are flattened for the trace (a trace
    cannot return None) and rebuilt here.
    """

    def __init__(self, module: nn.Module, example: torch.Tensor):
        super().__init__()
        object.__setattr__(self, 'original', module)  # not a registered child
        with torch.no_grad():
            out = module(example)
        self._structure = self._spec(out)
        flat = _Flatten(module).eval()
        traced = torch.jit.trace(flat, example, check_trace=False)
        self.traced = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

    @staticmethod
    def _spec(out):
        if isinstance(out, torch.Tensor):
            return 't'
        if out is None:
            return None
        return tuple(TracedForward._spec(o) for o in out)

    def _rebuild(self, spec, flat):
        if spec == 't':
            return next(flat)
        if spec is None:
            return None
        return tuple(self._rebuild(s, flat) for s in spec)

    def forward(self, x: torch.Tensor):
        flat = self.traced(x)
        return self._rebuild(self._structure, iter(flat))

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(object.__getattribute__(self, 'original'), name)


class _Flatten(nn.Module):

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        out = []

        def walk(o):
            if isinstance(o, torch.Tensor):
                out.append(o)
            elif o is not None:
                for item in o:
                    walk(item)
        walk(self.module(x))
        return tuple(out)


def _backbones(model: nn.Module):
    """``(parent, attribute)`` of every backbone to compile: a PatchClassifier's
    localizer and classifier backbones, or a plain classifier's."""
    found = []
    for sub in (getattr(model, 'localizer', None), getattr(model, 'classifier', None)):
        if sub is not None and hasattr(sub, 'backbone'):
            found.append(sub)
    if not found and hasattr(model, 'backbone'):
        found.append(model)
    return found


def optimize_for_inference(model: nn.Module,
                           fuse_bn: bool = True,
                           channels_last: bool = False,
                           skip_unused: bool = True,
                           compile: Union[bool, str] = False,
                           example_size: Optional[int] = 224,
                           inplace: bool = True) -> nn.Module:
    """Make an eval-mode model (an mmpretrain classifier, an AnchorNet
    classifier or a :class:`PatchClassifier`) faster at inference without
    changing its outputs (to float rounding); see the module docstring for
    each step and its measured effect.

    Args:
        model (nn.Module): the model; put in eval mode. Its BN layers are
            folded, so it must not be trained afterwards.
        fuse_bn (bool): fold BN into the preceding convolutions, and
            AnchorNet's depthwise 1x1 convolutions into per-channel affine maps.
        channels_last (bool): convert the weights to NHWC.
        skip_unused (bool): AnchorNet heads with ``test_with_attention=False``:
            skip the attention bottlenecks and the ``K``-channel logits maps
            at test (see :class:`AnchorNetHead` ``pooled_test_logits``).
        compile (bool | str): False, ``'jit'`` or ``'inductor'``.
        example_size (int): side of the example input traced by ``'jit'``.
        inplace (bool): transform ``model`` itself (default) or a deep copy.

    Returns:
        nn.Module: the transformed model, in eval mode.
    """
    if compile is True:
        compile = 'jit'
    if compile not in COMPILE_MODES:
        raise ValueError(f'optimize_for_inference: compile must be one of '
                         f'{COMPILE_MODES}, got {compile!r}')
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    if fuse_bn:
        fuse_conv_bn(model)
        replace_depthwise_1x1(model)
    if skip_unused:
        for module in model.modules():
            head = getattr(module, 'head', None)
            backbone = getattr(module, 'backbone', None)
            if hasattr(head, 'pooled_test_logits') and \
                    not head.test_with_attention:
                head.pooled_test_logits = True
                if hasattr(backbone, 'attention_at_test'):
                    backbone.attention_at_test = False
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if compile:
        param = next(model.parameters())
        for owner in _backbones(model):
            backbone = owner.backbone
            if compile == 'jit':
                example = torch.randn(1, 3, example_size, example_size,
                                      device=param.device, dtype=param.dtype)
                if channels_last:
                    example = example.contiguous(memory_format=torch.channels_last)
                owner.backbone = TracedForward(backbone, example)
            else:
                compiled = torch.compile(backbone, dynamic=False,
                                         options={'freezing': True})
                owner.backbone = _Compiled(backbone, compiled)
    return model


class _Compiled(nn.Module):
    """A ``torch.compile`` d backbone that still answers the original's
    attributes."""

    def __init__(self, module, compiled):
        super().__init__()
        object.__setattr__(self, 'original', module)
        object.__setattr__(self, 'compiled', compiled)

    def forward(self, x):
        return object.__getattribute__(self, 'compiled')(x)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(object.__getattribute__(self, 'original'), name)
