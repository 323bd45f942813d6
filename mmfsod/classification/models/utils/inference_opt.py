"""Faster CPU inference of AnchorNet and the downstream classifiers, with the
same logits (to float rounding; the tests check 1e-4 on random inputs with
random BN statistics).

:func:`optimize_for_inference` transforms an eval-mode model in place and
returns it. What each step does, and what it saved on the project's 2-core
machine (torch 2.13 CPU, 2 threads, batch 1, same run, interleaved; the
machine was shared, so the figures are rough; see the README's AnchorNet
section and ``benchmark_patch_pipeline.py --paper-operating-point``):

* ``fuse_bn``: mmcv's :func:`~mmcv.cnn.fuse_conv_bn` folds every BN into the
  convolution before it (AnchorNet: 54 BN layers, ~9 % of its time);
* ``depthwise 1x1 -> affine`` (AnchorNet, always with ``fuse_bn``): AnchorNet
  has depthwise convolutions with 1x1 kernels (Table 1's five k=1 rows,
  B63's second layer, the attention bottlenecks). With one thread torch does
  not hand them to oneDNN but runs one tiny convolution per channel (784 +
  576 a forward at test); after BN folding such a layer is a per-channel
  affine map, one ``addcmul``;
* ``skip_unused`` (AnchorNet): with ``test_with_attention=False`` (the
  paper's test) the attention bottlenecks are not computed at test
  (``AnchorNet.attention_at_test=False``), and the head computes the test
  logits by linearity from the pooled features and only the decided class's
  heatmaps (``AnchorNetHead.pooled_test_logits``), not the 1,000-channel
  logits maps (AnchorNet at 224: 0.486 -> 0.36 G MACs counted);
* ``channels_last``: NHWC weights (and so activations); oneDNN then needs no
  layout reorder around each convolution;
* ``compile``: ``'jit'`` traces each backbone once, freezes it
  (:func:`torch.jit.freeze`: constants folded) and applies
  :func:`torch.jit.optimize_for_inference` (oneDNN with pre-packed weights);
  the traced graph serves every input size. ``'inductor'`` wraps the
  backbones in :func:`torch.compile` (one compilation per new input shape).
  Off by default.
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
