"""Downstream classification from AnchorNet's semantic patches.

Paper section 4.3 (Tables 3 and 4): a frozen AnchorNet (the *localizer*)
decides the class ``gamma`` and the branch ``theta`` of an image (eqs. 6-8);
LSP (Algorithm 1) selects up to ``K_theta`` patches of side ``theta`` (the
branch's receptive field) from the heatmap ``M_theta = F_theta[:, :, gamma]``;
a downstream classifier (any mmpretrain classifier, e.g. ResNet-50) classifies
every patch at its native size and the image's class is the argmax of the
*sum of the patches' softmax distributions*.

Table 4's control classifies one input per image of the same size: the whole
image rescaled to ``theta x theta`` (``mode='rescale'``) instead of the
localized patch (``mode='localize', max_patches=1``). ``mode='full'``
classifies the whole image at its input size (the baseline rows of Table 3).

The cost of every image is counted, not estimated: multiply-accumulates of
the localizer at the input size and of the classifier at each input size it
sees, by :class:`mmengine.analysis.FlopAnalyzer` (one fused multiply-add =
1), once per size. Only the operators in :data:`MAC_OPS` (convolutions,
linear layers, matrix products) count: the analyzer's default total also adds
BN and pooling, which are not multiply-accumulates (AnchorNet at 224:
0.486 G MACs, 0.500 G by the default total).
"""
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import initialize
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ... import early_exit, lsp
from ..utils.anchornet_backend import AnchorNetBackend
from ..utils.inference_backends import ClassifierBackend
from .macs import MAC_OPS, count_macs  # noqa: F401 (re-exported)
from .patch_parts import (build_localizer, check_normalisation, load_localizer,
                          route_plain_classifier)
from .patch_stages import classify_in_stages

PATCH_MODES = ('localize', 'rescale', 'full')


@MODELS.register_module()
class PatchClassifier(BaseClassifier):
    """Classify an image from the semantic patches a frozen AnchorNet localizes
    (Yang et al., ICME 2022, section 4.3, Tables 3 and 4).

    Test (``predict``), per image of the normalised batch ``(B, 3, H, W)``:

    1. ``mode='localize'`` (Table 3, Table 4 "-L"): the localizer decides
       ``gamma`` and ``theta`` (eqs. 6-8) and gives ``M_theta``; LSP
       (Algorithm 1) with the configured setting selects ``n`` boxes of
       ``localizer.backbone.geometry((H, W))[theta]`` (at most
       ``max_patches``, in selection order, i.e. descending activation);
       every box is cropped from the *normalised network input* at its native
       ``theta x theta`` size and the image score is
       ``sum_i softmax(logits_i)`` over the patches classified. Without
       ``exit_cfg`` every patch is classified; with it, the patches are
       classified in stages and the image stops early once confident
       (:mod:`~mmfsod.classification.early_exit`). Either way the patches of
       one size of all the images still running go through the classifier
       in one batched forward per stage (:func:`classify_in_stages`).
    2. ``mode='rescale'`` (Table 4 "-R"): the localizer decides ``theta`` the
       same way; the whole image is resized to ``theta x theta``
       (``F.interpolate(**rescale_cfg)``; resizing is linear, so resizing the
       normalised input equals normalising the resized image) and classified
       alone (``n = 1``).
    3. ``mode='full'``: the classifier on the whole ``H x W`` input; the
       localizer is not run (and may be None).

    What each returned :class:`DataSample` holds:

    * ``pred_score``: the sum of the patches' softmax distributions divided by
      ``n``, i.e. their mean (sums to 1, same argmax and top-k as the sum);
      ``pred_label`` its argmax;
    * ``patch_scores`` ``(n, K)``: each patch's softmax; ``patch_boxes``
      ``(n, 4)`` int64 ``[x1, y1, x2, y2]`` half-open boxes in network-input
      pixels (``'rescale'``/``'full'``: the whole input);
    * metainfo ``branch`` (``theta``'s name, ``None`` in ``'full'``),
      ``localizer_label`` (``gamma``, -1 in ``'full'``), ``patch_size``
      (``theta``; ``H`` in ``'full'``), ``num_patches`` (``n``, the patches
      classified), ``num_candidates`` (the LSP patches there were),
      ``exit_stage`` / ``num_stages`` (0-based stage the image stopped after,
      of how many; not in ``'full'``), and the cost:
      ``localizer_macs`` (the localizer at ``H x W``; 0 in ``'full'``),
      ``classifier_macs`` (``n`` x the classifier at ``theta x theta``; at
      ``H x W`` in ``'full'``) and, with ``count_full_image_macs``,
      ``full_image_macs`` (the classifier at ``H x W``, the baseline's cost).
      :class:`~mmfsod.classification.evaluation.PatchCostMetric` averages them.

    Training (``loss``): the classifier's own loss on the given inputs -- the
    patches of :class:`~mmfsod.classification.datasets.LSPPatchDataset` (or
    whole images) -- while the localizer stays frozen: its parameters do not
    require gradients and it is kept in eval mode (its BN statistics never
    change). ``mode='tensor'`` returns the classifier's logits of the inputs.

    Weights: ``localizer_checkpoint`` (a checkpoint of the AnchorNet
    classifier) is loaded when the model is built, strictly; the classifier
    is initialised by its own ``init_cfg`` (e.g. mmpretrain's ImageNet
    checkpoint) in ``init_weights``. A checkpoint loaded into the whole model
    (``load_from``, ``tools/test.py``) may be a ``PatchClassifier`` checkpoint
    (``classifier.*``, ``localizer.*`` keys; its localizer replaces the one
    from ``localizer_checkpoint``) or a *plain* classifier checkpoint
    (``backbone.*``/``neck.*``/``head.*``, e.g. an mmpretrain model-zoo or a
    full-image training checkpoint): its keys are loaded into ``classifier``
    and must fit it exactly.

    Normalisation: the localizer and the classifier both see the input
    normalised by this model's ``data_preprocessor``; a sub-model whose own
    ``data_preprocessor`` normalises differently is an error. Batch
    augmentations belong in this model's ``data_preprocessor``.

    Args:
        classifier (dict): the downstream classifier, e.g. an
            ``ImageClassifier`` config (ResNet-50 + ``LinearClsHead``); its
            ``mode='tensor'`` forward must return ``(N, K)`` logits.
        localizer (dict | str, optional): the AnchorNet classifier (an
            ``ImageClassifier`` with an ``AnchorNet`` backbone and an
            ``AnchorNetHead``), or the path of its training config (its
            ``model`` and ``data_preprocessor`` are used; relative paths may
            be relative to the repository root). Required unless
            ``mode='full'``.
        localizer_checkpoint (str, optional): weights of the localizer (file
            or URL). None keeps its initialisation (tests) or lets a whole-model
            checkpoint provide them.
        lsp_setting (str | dict): ``'downstream'`` (the paper's slack setting,
            default), ``'visualisation'`` or ``dict(B63=dict(k_max=...,
            iou_thr=..., coverage=...), ...)`` for every localizer branch.
        mode (str): ``'localize'`` (default), ``'rescale'`` or ``'full'``.
        max_patches (int, optional): keep only the first ``max_patches`` LSP
            patches (Table 4: 1). None keeps all.
        branch (str, optional): use this localizer branch for every image
            instead of the decided ``theta`` (eq. 8): its patch size, and in
            ``'localize'`` its heatmap ``F_b[:, :, gamma]`` of the decided
            class. Table 4 reports each patch size on every image this way.
            None (default) follows the decision.
        rescale_cfg (dict): keyword arguments of :func:`F.interpolate` for
            ``'rescale'``. Default bilinear with antialiasing.
        count_full_image_macs (bool): also count the classifier at the input
            size (``full_image_macs``). Default True.
        exit_cfg (dict, optional): confidence early exit over the patches
            (:mod:`mmfsod.classification.early_exit`): ``stages`` (patches
            per stage, default ``(1,)``; the last size repeats),
            ``thresholds`` (one per stage, the last repeats; calibrate them
            with ``tools/analysis_tools/calibrate_early_exit.py``) and
            ``score`` (``'max'`` or ``'margin'``). The images of a batch go
            through the stages together (one forward per patch size and
            stage); an image stops once the confidence of the normalised
            sum of its softmaxes so far reaches the stage's threshold, or
            when its patches run out, and only the patches classified are
            counted in ``classifier_macs``. None (default) classifies every
            LSP patch.
        max_patch_batch (int, optional): the most patches in one classifier
            forward (memory); None: every patch of one size and stage at
            once.
        backend (str): the engine of the classifier's test-time forward:
            ``'pytorch'`` (default), ``'onnxruntime'`` or ``'openvino'``
            (the ``deploy`` extra): the classifier's forward and AnchorNet's
            test path run in that engine (see ``utils/inference_backends.py``
            and ``utils/anchornet_backend.py``); LSP, the crops, the early
            exit, the predictions (to float rounding) and the MACs (counted
            on the PyTorch models) are unchanged.
        backend_cfg (dict, optional): ``onnx_file`` (a graph written by
            ``tools/deployment/export_onnx.py``, checked against this
            config; None: the classifier's current weights are exported when
            first needed), ``num_threads`` (None: torch's),
            ``anchornet_in_engine`` (default True; False keeps AnchorNet in
            PyTorch) and ``anchornet_onnx_file`` (``export_onnx.py --part
            anchornet``; None: exported when first needed).
        data_preprocessor (dict, optional): default ``ClsDataPreprocessor``.
        init_cfg (dict, optional): initialization config of this model.
    """

    def __init__(self,
                 classifier: dict,
                 localizer: Optional[Union[dict, str]] = None,
                 localizer_checkpoint: Optional[str] = None,
                 lsp_setting: Union[str, dict] = 'downstream',
                 mode: str = 'localize',
                 max_patches: Optional[int] = None,
                 branch: Optional[str] = None,
                 rescale_cfg: dict = dict(mode='bilinear', align_corners=False,
                                          antialias=True),
                 count_full_image_macs: bool = True,
                 exit_cfg: Optional[dict] = None,
                 max_patch_batch: Optional[int] = 256,
                 backend: str = 'pytorch',
                 backend_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        super().__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        if mode not in PATCH_MODES:
            raise ValueError(f'PatchClassifier: mode must be one of {PATCH_MODES}, '
                             f'got {mode!r}')
        if max_patches is not None and (isinstance(max_patches, bool) or
                                        not isinstance(max_patches, int) or
                                        max_patches < 1):
            raise ValueError(f'PatchClassifier: max_patches must be None or an int '
                             f'>= 1, got {max_patches!r}')
        if not isinstance(rescale_cfg, dict) or 'size' in rescale_cfg \
                or 'scale_factor' in rescale_cfg:
            raise ValueError('PatchClassifier: rescale_cfg must be a dict of '
                             'F.interpolate arguments without size/scale_factor (the '
                             f'size is the branch RF), got {rescale_cfg!r}')
        self.mode = mode
        self.max_patches = max_patches
        self.exit_cfg = early_exit.check_exit_cfg(exit_cfg, 'PatchClassifier: exit_cfg')
        if max_patch_batch is not None and (not isinstance(max_patch_batch, int) or
                                            isinstance(max_patch_batch, bool) or
                                            max_patch_batch < 1):
            raise ValueError('PatchClassifier: max_patch_batch must be None or an int '
                             f'>= 1, got {max_patch_batch!r}')
        self.max_patch_batch = max_patch_batch
        self.rescale_cfg = dict(rescale_cfg)
        self.count_full_image_macs = count_full_image_macs

        if not isinstance(classifier, (dict, nn.Module)):
            raise TypeError(f'PatchClassifier: classifier must be a model config dict, '
                            f'got {type(classifier).__name__}')
        self.classifier = (classifier if isinstance(classifier, nn.Module) else
                           MODELS.build(classifier))

        if localizer is None:
            if mode != 'full':
                raise ValueError(f"PatchClassifier: mode={mode!r} needs a localizer "
                                 "(the AnchorNet classifier config); only mode='full' "
                                 'works without one')
            if localizer_checkpoint is not None:
                raise ValueError('PatchClassifier: localizer_checkpoint given without '
                                 'a localizer')
            self.localizer = None
        else:
            self.localizer = build_localizer(localizer)
        self.localizer_checkpoint = localizer_checkpoint
        self.lsp_setting = None
        self.branch = branch
        if branch is not None:
            names = () if self.localizer is None else self.localizer.backbone.branch_names
            if mode == 'full' or branch not in names:
                raise ValueError(f'PatchClassifier: branch {branch!r} is not a branch of '
                                 f'the localizer ({list(names)}; mode {mode!r})')
        if self.localizer is not None:
            try:
                self.lsp_setting = lsp.resolve_setting(
                    lsp_setting, self.localizer.backbone.branch_names)
            except (TypeError, ValueError) as err:
                raise type(err)(f'PatchClassifier: lsp_setting: {err}') from err
        check_normalisation(self.data_preprocessor,
                            dict(localizer=self.localizer, classifier=self.classifier))
        self.backend = ClassifierBackend(backend, backend_cfg, 'PatchClassifier')
        self.backend.check(getattr(getattr(self.classifier, 'head', None), 'num_classes',
                                   None), self._normalisation())
        self.anchornet_backend = AnchorNetBackend(backend, backend_cfg, 'PatchClassifier')
        if self.localizer is not None:
            self.anchornet_backend.check(self.localizer, self._normalisation())
        if self.localizer is not None:
            if localizer_checkpoint is not None:
                load_localizer(self.localizer, localizer_checkpoint)
            self.localizer.requires_grad_(False)
            self.localizer.eval()
        # caches keyed by input size (H, W)
        self._geometry_cache: Dict[Tuple[int, int], Dict[str, lsp.BranchGeometry]] = {}
        self._macs_cache: Dict[Tuple[str, int, int], int] = {}
        self._register_load_state_dict_pre_hook(self._load_plain_classifier)

    def _load_plain_classifier(self, state_dict, prefix, *args) -> None:
        """Load-state-dict pre-hook: a plain classifier checkpoint goes into
        ``classifier`` (:func:`route_plain_classifier`)."""
        route_plain_classifier(state_dict, prefix, self.classifier)

    def init_weights(self) -> None:
        """Initialise the classifier (its ``init_cfg``, e.g. pretrained
        weights); the localizer keeps the weights of ``localizer_checkpoint``
        (it is initialised only when there is none). This model's own
        ``init_cfg`` (e.g. ``Pretrained`` with a PatchClassifier checkpoint)
        is applied last."""
        self.classifier.init_weights()
        if self.localizer is not None and self.localizer_checkpoint is None:
            self.localizer.init_weights()
        if self.init_cfg:
            initialize(self, self.init_cfg)
        if self.localizer is not None:
            self.localizer.requires_grad_(False)
        self._is_init = True

    def train(self, mode: bool = True) -> 'PatchClassifier':
        """Set the classifier's mode; the localizer always stays in eval mode."""
        super().train(mode)
        if self.localizer is not None:
            self.localizer.eval()
        return self

    # -- forward -----------------------------------------------------------
    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: the classifier's logits of ``inputs``; ``'loss'``:
        the classifier's losses on ``inputs`` (patches); ``'predict'``: see
        :meth:`predict`."""
        if mode == 'tensor':
            return self._logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'PatchClassifier: invalid mode "{mode}"')

    def extract_feat(self, inputs: torch.Tensor, **kwargs):
        """The classifier's features of ``inputs``."""
        return self.classifier.extract_feat(inputs, **kwargs)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """The classifier's losses on ``inputs`` ``(B, 3, h, w)`` (training
        patches); the localizer is not used."""
        return self.classifier.loss(inputs, data_samples)

    def _normalisation(self) -> Optional[dict]:
        dp = self.data_preprocessor
        if not getattr(dp, '_enable_normalize', False):
            return None
        return dict(mean=dp.mean.flatten().tolist(), std=dp.std.flatten().tolist())

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.backend.active and not self.training:
            return self.backend.logits(self.classifier, inputs)  # (N, K)
        logits = self.classifier(inputs, mode='tensor')  # (N, K)
        if isinstance(logits, (tuple, list)):
            logits = logits[-1]
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise TypeError(
                "PatchClassifier: the classifier's mode='tensor' forward must return "
                f'(N, num_classes) logits, got '
                f'{getattr(logits, "shape", type(logits).__name__)}')
        return logits

    # -- geometry and cost -------------------------------------------------
    def geometry(self, input_size: Tuple[int, int]) -> Dict[str, lsp.BranchGeometry]:
        """The localizer's per-branch geometry for an ``(H, W)`` input (cached)."""
        key = (int(input_size[0]), int(input_size[1]))
        if key not in self._geometry_cache:
            self._geometry_cache[key] = self.localizer.backbone.geometry(key)
        return self._geometry_cache[key]

    def macs(self, which: str, size: Tuple[int, int], channels: int = 3) -> int:
        """MACs of one forward of ``'localizer'`` or ``'classifier'`` on one
        ``channels x H x W`` input (:func:`count_macs`, cached by size)."""
        key = (which, int(size[0]), int(size[1]))
        if key not in self._macs_cache:
            module = self.localizer if which == 'localizer' else self.classifier
            self._macs_cache[key] = count_macs(module, (1, channels) + key[1:])
        return self._macs_cache[key]

    # -- test ----------------------------------------------------------------
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Classify every image of ``inputs`` ``(B, 3, H, W)`` (normalised)
        according to ``mode``; see the class docstring for what is stored."""
        B, C, H, W = inputs.shape
        if data_samples is None:
            data_samples = [DataSample() for _ in range(B)]
        if len(data_samples) != B:
            raise ValueError(f'PatchClassifier: {len(data_samples)} data samples for '
                             f'{B} images')
        for data_sample in data_samples:
            img_shape = data_sample.metainfo.get('img_shape')
            if img_shape is not None and tuple(img_shape[:2]) != (H, W):
                where = data_sample.metainfo.get('img_path', 'an image')
                raise ValueError(
                    f'PatchClassifier: {where} is {img_shape[0]}x{img_shape[1]} '
                    f'but the batch is {H}x{W} '
                    '(padded): patches and costs would include the padding; resize '
                    'every image to one size in the test pipeline (e.g. '
                    'Resize(scale=(224, 224))) or use batch size 1')
        if self.mode == 'full':
            return self._predict_full(inputs, data_samples)

        geometry = self.geometry((H, W))
        with torch.no_grad():  # B Localized: gamma, theta, heatmap of the branch used
            decisions = self.anchornet_backend.localize(self.localizer, inputs,
                                                        self.branch)
        localizer_macs = self.macs('localizer', (H, W), C)
        full_macs = self.macs('classifier', (H, W), C) \
            if self.count_full_image_macs else None
        branches, boxes, patches = [], [], []
        for i, decision in enumerate(decisions):
            theta = self.branch or decision.branch
            box, patch = self._patches_of(inputs[i], decision.heatmap, theta,
                                          geometry[theta])
            branches.append(theta)
            boxes.append(box)  # (n, 4) [x1, y1, x2, y2]
            patches.append(patch)  # (n, C, rf, rf)
        with torch.no_grad():
            staged = classify_in_stages(self._logits, patches, self.exit_cfg,
                                        self.max_patch_batch)
        for data_sample, decision, theta, box, patch, result in zip(
                data_samples, decisions, branches, boxes, patches, staged):
            rf = geometry[theta].rf
            n = result.probs.size(0)  # patches classified (early exit: <= len(box))
            self._set_prediction(
                data_sample, result.probs,
                torch.as_tensor(box[:n], dtype=torch.int64, device=result.probs.device),
                branch=theta, localizer_label=decision.label,
                patch_size=rf, localizer_macs=localizer_macs,
                classifier_macs=n * self.macs('classifier', (rf, rf), C),
                full_image_macs=full_macs)
            data_sample.set_metainfo(dict(num_candidates=int(patch.size(0)),
                                          exit_stage=result.exit_stage,
                                          num_stages=result.num_stages))
        return data_samples

    def _patches_of(self, image: torch.Tensor, heatmap: torch.Tensor, theta: str,
                    geo: lsp.BranchGeometry) -> Tuple[np.ndarray, torch.Tensor]:
        """The boxes ``(n, 4)`` and the patches ``(n, C, rf, rf)`` of one
        normalised image ``(C, H, W)``: its LSP patches on ``heatmap``
        ``(h, w)`` (branch ``theta``) in selection order (``'localize'``), or
        the whole image resized to ``rf x rf`` (``'rescale'``)."""
        C, H, W = image.shape
        rf = geo.rf
        if self.mode == 'rescale':
            boxes = np.array([[0, 0, W, H]], dtype=np.int64)  # (1, 4)
            return boxes, F.interpolate(image[None], size=(rf, rf),
                                        **self.rescale_cfg)  # (1, C, rf, rf)
        heatmap = heatmap.detach().float().cpu().numpy()  # (h, w)
        result = lsp.localize_semantic_patches(heatmap, geo, **self.lsp_setting[theta])
        boxes = result.boxes[:self.max_patches]  # (n, 4) [x1, y1, x2, y2]
        return boxes, torch.stack([image[:, y1:y2, x1:x2]
                                   for x1, y1, x2, y2 in boxes.tolist()])

    def _predict_full(self, inputs: torch.Tensor,
                      data_samples: List[DataSample]) -> List[DataSample]:
        B, C, H, W = inputs.shape
        probs = self._logits(inputs).softmax(dim=-1)  # (B, K)
        macs = self.macs('classifier', (H, W), C)
        box = torch.tensor([[0, 0, W, H]], dtype=torch.int64, device=probs.device)  # (1, 4)
        for i, data_sample in enumerate(data_samples):
            self._set_prediction(data_sample, probs[i:i + 1], box, branch=None,
                                 localizer_label=-1, patch_size=H, localizer_macs=0,
                                 classifier_macs=macs,
                                 full_image_macs=macs if self.count_full_image_macs
                                 else None)
        return data_samples

    @staticmethod
    def _set_prediction(data_sample: DataSample, probs: torch.Tensor,
                        boxes: torch.Tensor, branch: Optional[str],
                        localizer_label: int, patch_size: int, localizer_macs: int,
                        classifier_macs: int, full_image_macs: Optional[int]) -> None:
        """Store the image score (mean of the ``(n, K)`` patch softmaxes) and
        the per-image record."""
        probs = probs.detach()
        score = probs.sum(dim=0) / probs.size(0)  # (K,) sum of softmaxes / n
        data_sample.set_pred_score(score).set_pred_label(int(score.argmax()))
        data_sample.set_field(probs, 'patch_scores', dtype=torch.Tensor)
        data_sample.set_field(boxes, 'patch_boxes', dtype=torch.Tensor)
        meta = dict(branch=branch, localizer_label=localizer_label,
                    patch_size=int(patch_size), num_patches=int(probs.size(0)),
                    localizer_macs=int(localizer_macs),
                    classifier_macs=int(classifier_macs))
        if full_image_macs is not None:
            meta['full_image_macs'] = int(full_image_macs)
        data_sample.set_metainfo(meta)
