"""AnchorNet backbone: a padding-free MobileNetV3-style head and three
localization branches with their attention bottlenecks (paper Tables 1, 2).

Every convolution has padding 0, so each location of a branch's output maps
to exactly one ``rf x rf`` input patch (paper section 3.1). The geometry is
not typed in: :meth:`AnchorNet.layer_specs` walks the built modules'
``kernel_size``/``stride``/``padding``/``dilation`` and
:mod:`mmfsod.classification.lsp` accumulates it. For a 224 x 224 input the
head gives 23 x 23 (stride 8, RF 47) and the branches 21 x 21 (RF 63),
17 x 17 (RF 95) and 15 x 15 (RF 111).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import SELayer, make_divisible
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ... import lsp

# One row per layer, as the paper's tables:
#   (operator, kernel, exp, out, SE, NL, stride)
# operator 'conv' (conv-BN-act, ``exp`` unused) or 'bneck' (inverted
# residual: 1x1 expand to ``exp`` channels unless exp == in, depthwise
# kernel x kernel, optional SE, 1x1 project to ``out``); NL 'HSwish' or
# 'ReLU'. The trailing comment is the paper's input size and accumulated RF
# for a 224 x 224 image.
ANCHORNET_ARCH = dict(
    head=[  # Table 1
        ('conv', 3, None, 16, False, 'HSwish', 2),  # 224, RF 3
        ('bneck', 3, 16, 16, False, 'ReLU', 2),  # 111, RF 7
        ('bneck', 3, 72, 24, False, 'ReLU', 2),  # 55, RF 15
        ('bneck', 1, 88, 24, False, 'ReLU', 1),  # 27, RF 15
        ('bneck', 1, 96, 40, True, 'HSwish', 1),  # 27, RF 15
        ('bneck', 1, 240, 40, True, 'HSwish', 1),  # 27, RF 15
        ('bneck', 1, 240, 40, True, 'HSwish', 1),  # 27, RF 15
        ('bneck', 1, 120, 48, True, 'HSwish', 1),  # 27, RF 15
        ('bneck', 3, 144, 48, True, 'HSwish', 1),  # 27, RF 31
        ('bneck', 3, 288, 96, True, 'HSwish', 1),  # 25, RF 47 -> 23 x 23
    ],
    branches=dict(  # Table 2, on the 23 x 23 head output (stride 8)
        B63=dict(
            layers=[
                ('bneck', 3, 480, 96, True, 'HSwish', 1),  # 23, RF 63
                ('bneck', 1, 576, 96, True, 'HSwish', 1),  # 21, RF 63
            ],
            attention=[('bneck', 1, 192, 96, True, 'HSwish', 1)]),  # 21, RF 63
        B95=dict(
            layers=[
                ('bneck', 3, 480, 96, True, 'HSwish', 1),  # 23, RF 63
                ('bneck', 5, 576, 96, True, 'HSwish', 1),  # 21, RF 95
            ],
            attention=[('bneck', 1, 192, 96, True, 'HSwish', 1)]),  # 17, RF 95
        B111=dict(
            layers=[
                ('bneck', 5, 480, 96, True, 'HSwish', 1),  # 23, RF 79
                ('bneck', 5, 576, 96, True, 'HSwish', 1),  # 19, RF 111
            ],
            attention=[('bneck', 1, 192, 96, True, 'HSwish', 1)]),  # 15, RF 111
    ))

# SE block of MobileNetV3 (Howard et al. 2019), as mmpretrain's MobileNetV3:
# squeeze to make_divisible(C / 4, 8), ReLU, expand, hard sigmoid
# min(max((x + 3) / 6, 0), 1) (torch's Hardsigmoid; mmcv's HSigmoid with the
# same numbers warns on every build). C is the expanded ("exp") channels
# (``se_squeeze_from='exp'``, MobileNetV3) or the block's input channels
# (``'in'``, EfficientNet style, the default: closer to the paper's 1.6 M
# parameters).
SE_RATIO = 4
DIVISOR = 8
SE_ACT_CFG = (dict(type='ReLU'), dict(type=nn.Hardsigmoid))

_SPATIAL_TYPES = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _square(value, what: str, module: nn.Module) -> int:
    if isinstance(value, str):
        raise ValueError(f'{type(module).__name__}: {what}={value!r} has no fixed '
                         f'geometry; use an integer')
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ValueError(f'{type(module).__name__}: non-square {what}={value} is '
                             f'not supported by the receptive-field walk')
        value = value[0]
    return int(value)


def spatial_layer_specs(module: nn.Module) -> List[Tuple[int, int, int, int]]:
    """``(k, s, p, d)`` of every spatial layer of ``module``, in order.

    Walks the module tree in registration order (the execution order of the
    modules built here) and records ``nn.Conv2d``/``MaxPool2d``/``AvgPool2d``.
    Subtrees of :class:`SELayer` are skipped: their 1x1 convolutions act on
    globally pooled features and gate whole channels, they do not move the
    convolutional footprint (the paper ignores them too).
    """
    specs = []
    if isinstance(module, SELayer):
        return specs
    if isinstance(module, _SPATIAL_TYPES):
        dilation = getattr(module, 'dilation', 1)
        specs.append((_square(module.kernel_size, 'kernel_size', module),
                      _square(module.stride, 'stride', module),
                      _square(module.padding, 'padding', module),
                      _square(dilation, 'dilation', module)))
        return specs
    for child in module.children():
        specs.extend(spatial_layer_specs(child))
    return specs


class UnpaddedInvertedResidual(BaseModule):
    """MobileNetV3 bottleneck with padding 0 everywhere.

    1x1 expand (skipped when ``mid_channels == in_channels``) -> depthwise
    ``k x k`` with stride ``s`` and **padding 0** -> optional SE -> 1x1 linear
    projection. A residual is added when ``stride == 1`` and
    ``in_channels == out_channels``; the unpadded depthwise conv shrinks the
    map by ``k - 1``, so the input is center-cropped by ``(k - 1) // 2``
    pixels on each side (exactly centered for odd ``k``) to the output's
    ``(H - k + 1) x (W - k + 1)``::

        x: (B, C_in, H, W) -> out: (B, C_out, H', W'),
        H' = (H - k) // s + 1

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        mid_channels (int): expanded channels of the depthwise conv ("exp").
        kernel_size (int): depthwise kernel ``k``.
        stride (int): depthwise stride.
        se_cfg (dict, optional): :class:`SELayer` kwargs; None for no SE.
        conv_cfg, norm_cfg, act_cfg (dict): as :class:`mmcv.cnn.ConvModule`.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 se_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_expand_conv = mid_channels != in_channels
        self.with_se = se_cfg is not None
        self.kernel_size = kernel_size
        # Registration order = execution order (spatial_layer_specs relies on it).
        if self.with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, stride=1,
                                          padding=0, conv_cfg=conv_cfg,
                                          norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, kernel_size,
                                         stride=stride, padding=0, groups=mid_channels,
                                         conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, stride=1,
                                      padding=0, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                      act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x  # (B, C_in, H, W)
        if self.with_expand_conv:
            out = self.expand_conv(out)  # (B, C_mid, H, W)
        out = self.depthwise_conv(out)  # (B, C_mid, H', W')
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)  # (B, C_out, H', W')
        if not self.with_res_shortcut:
            return out
        c = (self.kernel_size - 1) // 2
        h, w = out.shape[-2:]
        return out + x[..., c:c + h, c:c + w]  # (B, C_out, H', W')


@MODELS.register_module()
class AnchorNet(BaseBackbone):
    """AnchorNet backbone: head (Table 1) and localization branches (Table 2).

    Yang et al., "Localizing Semantic Patches for Accelerating Image
    Classification", ICME 2022. All convolutions are unpadded, so branch ``j``
    with receptive field ``rf_j`` and stride ``s`` maps an ``H x W`` image to
    ``(floor((H - rf_j) / s) + 1) x (floor((W - rf_j) / s) + 1)`` locations,
    each exactly one ``rf_j x rf_j`` image patch (see :meth:`geometry`).

    ``forward`` returns one ``(feat, att_feat)`` pair per branch, in the
    order of ``arch['branches']`` (``B63``, ``B95``, ``B111``)::

        img (B, 3, H, W) -> head (B, 96, h0, w0)
          -> branch j layers:    feat_j      (B, 96, h_j, w_j)
          -> attention bneck j:  att_feat_j  (B, 96, h_j, w_j)

    ``feat_j`` feeds the linear 1x1 logits conv and ``att_feat_j`` is ``X`` of
    the attention branch (eqs. 1-5), both in :class:`AnchorNetHead`.

    Args:
        arch (str | dict): ``'anchornet'`` (the paper's tables) or a dict
            ``dict(head=[rows], branches=dict(name=dict(layers=[rows],
            attention=[rows])))`` with rows as :data:`ANCHORNET_ARCH`
            (e.g. a narrower net for toy data). The first head row must be a
            ``'conv'``; attention rows must keep the spatial size (1x1,
            stride 1).
        in_channels (int): image channels. Default 3.
        conv_cfg (dict, optional): convolution config. Default None (Conv2d).
        norm_cfg (dict): normalization config. Default: BN with
            MobileNetV3's ``eps=0.001, momentum=0.01``.
        norm_eval (bool): keep norm layers in eval mode while training.
        widen_factor (float): multiplies every row's ``exp`` and ``out``
            channels (rounded by ``make_divisible(c * widen_factor, 8)``); the
            geometry does not change. Default 1.0 (the tables).
        se_squeeze_from (str): the SE squeeze width is
            ``make_divisible(C / 4, 8)`` with ``C`` the block's input channels
            (``'in'``, EfficientNet style, default: 1.72 M parameters at 1,000
            classes, 1.43 M without the training-only FCs, closest to the
            paper's 1.6 M) or the expanded channels (``'exp'``, MobileNetV3:
            2.53 / 2.24 M); the paper does not say which.
        attention_at_test (bool): compute the attention bottlenecks in eval
            mode (default True). With False the eval-mode forward returns
            ``(feat_j, None)`` pairs: only for an :class:`AnchorNetHead` with
            ``test_with_attention=False``, which does not read them at test
            (``optimize_for_inference`` sets it so). Training always
            computes them.
        init_cfg (dict | list[dict]): as mmpretrain's MobileNetV3.
    """
    arch_zoo = {'anchornet': ANCHORNET_ARCH}

    def __init__(self,
                 arch: Union[str, dict] = 'anchornet',
                 in_channels: int = 3,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', eps=0.001, momentum=0.01),
                 norm_eval: bool = False,
                 widen_factor: float = 1.0,
                 se_squeeze_from: str = 'in',
                 attention_at_test: bool = True,
                 init_cfg=[
                     dict(type='Kaiming', layer=['Conv2d'], nonlinearity='leaky_relu'),
                     dict(type='Normal', layer=['Linear'], std=0.01),
                     dict(type='Constant', layer=['BatchNorm2d'], val=1)
                 ]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f'AnchorNet: unknown arch {arch!r}; choose from '
                                 f'{sorted(self.arch_zoo)} or give a dict')
            arch = self.arch_zoo[arch]
        if not isinstance(arch, dict) or set(arch) != {'head', 'branches'}:
            raise ValueError('AnchorNet: arch dict must have exactly the keys '
                             f"'head' and 'branches', got {arch!r}")
        if not arch['branches']:
            raise ValueError('AnchorNet: arch has no branches')
        self.arch = copy.deepcopy(arch)
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.norm_eval = norm_eval
        if se_squeeze_from not in ('exp', 'in'):
            raise ValueError(f"AnchorNet: se_squeeze_from must be 'exp' or 'in', got "
                             f'{se_squeeze_from!r}')
        self.se_squeeze_from = se_squeeze_from
        self.attention_at_test = bool(attention_at_test)
        if not widen_factor > 0:
            raise ValueError(f'AnchorNet: widen_factor must be > 0, '
                             f'got {widen_factor!r}')
        self.widen_factor = widen_factor

        head_rows = list(arch['head'])
        if not head_rows or head_rows[0][0] != 'conv':
            raise ValueError("AnchorNet: the first head row must be a 'conv' row, "
                             f'got {head_rows[:1]!r}')
        self.head_layers, head_channels = self._make_layers(head_rows, in_channels,
                                                            'head')
        self.branch_names = tuple(arch['branches'])
        self.branches = nn.ModuleDict()
        self.attention_layers = nn.ModuleDict()
        self.out_channels: Dict[str, Tuple[int, int]] = {}
        for name, spec in arch['branches'].items():
            if not isinstance(spec, dict) or set(spec) != {'layers', 'attention'}:
                raise ValueError(f'AnchorNet: branch {name!r} must be '
                                 f"dict(layers=[...], attention=[...]), got {spec!r}")
            layers, channels = self._make_layers(spec['layers'], head_channels, name)
            att, att_channels = self._make_layers(spec['attention'], channels,
                                                  f'{name} attention')
            att_geo = lsp.receptive_field(spatial_layer_specs(att))
            if (att_geo.rf, att_geo.stride, att_geo.offset) != (1, 1, 0):
                raise ValueError(f'AnchorNet: branch {name!r} attention layers must '
                                 f'keep the spatial size (1x1 kernels, stride 1, '
                                 f'padding 0), got rf={att_geo.rf}, '
                                 f'stride={att_geo.stride}')
            self.branches[name] = layers
            self.attention_layers[name] = att
            self.out_channels[name] = (channels, att_channels)

    def _make_layers(self, rows: Sequence[tuple], in_channels: int,
                     where: str) -> Tuple[nn.Sequential, int]:
        """Build a Sequential from table rows; return it and its out channels."""
        layers = []
        for index, row in enumerate(rows):
            if len(row) != 7:
                raise ValueError(f'AnchorNet: {where} row {index} must be (operator, '
                                 f'kernel, exp, out, SE, NL, stride), got {row!r}')
            op, kernel, exp, out, with_se, act, stride = row
            out = self._width(out)
            exp = None if exp is None else self._width(exp)
            act_cfg = dict(type={'HS': 'HSwish', 'RE': 'ReLU'}.get(act, act))
            if op == 'conv':
                layer = ConvModule(in_channels, out, kernel, stride=stride, padding=0,
                                   conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                                   act_cfg=act_cfg)
            elif op == 'bneck':
                base = exp if self.se_squeeze_from == 'exp' else in_channels
                se_cfg = dict(channels=exp,
                              squeeze_channels=make_divisible(base // SE_RATIO,
                                                              DIVISOR),
                              act_cfg=SE_ACT_CFG) if with_se else None
                layer = UnpaddedInvertedResidual(
                    in_channels, out, exp, kernel_size=kernel, stride=stride,
                    se_cfg=se_cfg, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=act_cfg)
            else:
                raise ValueError(f'AnchorNet: {where} row {index}: unknown operator '
                                 f"{op!r} (expected 'conv' or 'bneck')")
            layers.append(layer)
            in_channels = out
        return nn.Sequential(*layers), in_channels

    def _width(self, channels: int) -> int:
        if self.widen_factor == 1.0:
            return channels
        return make_divisible(channels * self.widen_factor, DIVISOR)

    # -- geometry ----------------------------------------------------------
    def _check_branch(self, branch: str) -> None:
        if branch not in self.branches:
            raise KeyError(f'AnchorNet: unknown branch {branch!r}; branches are '
                           f'{list(self.branch_names)}')

    def layer_specs(self, branch: str) -> List[Tuple[int, int, int, int]]:
        """``(k, s, p, d)`` of every spatial layer from the image to ``branch``'s
        output (head then branch layers), read off the built modules."""
        self._check_branch(branch)
        return (spatial_layer_specs(self.head_layers) +
                spatial_layer_specs(self.branches[branch]))

    def receptive_fields(self) -> Dict[str, lsp.ReceptiveField]:
        """Branch name -> accumulated ``rf``, ``stride``, ``offset``."""
        return {n: lsp.receptive_field(self.layer_specs(n)) for n in self.branch_names}

    def geometry(self, input_size: Union[int, Tuple[int, int]]
                 ) -> Dict[str, lsp.BranchGeometry]:
        """Per branch: map size, RF, stride and the image box of every location
        for an ``input_size`` (``(H, W)`` or int) image; see
        :func:`mmfsod.classification.lsp.branch_geometry`.

        Raises:
            ValueError: the image is smaller than a branch's receptive field.
        """
        return lsp.branch_geometry(
            input_size, {n: self.layer_specs(n) for n in self.branch_names})

    def _check_input(self, x: torch.Tensor) -> None:
        H, W = int(x.shape[-2]), int(x.shape[-1])
        for name, geo in self.receptive_fields().items():
            if H < geo.rf or W < geo.rf:
                raise ValueError(f'AnchorNet: input {H}x{W} is smaller than the '
                                 f'receptive field {geo.rf}x{geo.rf} of branch '
                                 f'{name!r}')

    # -- forward -----------------------------------------------------------
    def forward(self, x: torch.Tensor
                ) -> Tuple[Tuple[torch.Tensor, torch.Tensor], ...]:
        """Return ``((feat_j, att_feat_j), ...)``, one pair per branch;
        ``att_feat_j`` is None in eval mode with ``attention_at_test=False``."""
        if not torch.jit.is_tracing():
            self._check_input(x)
        with_attention = self.training or self.attention_at_test
        x = self.head_layers(x)  # (B, C_head, h0, w0)
        outs = []
        for name in self.branch_names:
            feat = self.branches[name](x)  # (B, C_j, h_j, w_j)
            att_feat = (self.attention_layers[name](feat)  # (B, C_att_j, h_j, w_j)
                        if with_attention else None)
            outs.append((feat, att_feat))
        return tuple(outs)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
