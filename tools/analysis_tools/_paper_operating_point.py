"""``benchmark_patch_pipeline.py --paper-operating-point``: the patch pipeline
at the paper's operating point, ImageNet geometry, random weights.

Paper (Yang et al., ICME 2022, section 4.3): on the 50,000 ImageNet
validation images AnchorNet picks B63 / B95 / B111 for 15,050 / 18,047 /
16,903 images, which get 5.6 / 2.9 / 2.1 patches on average. No ImageNet and
no trained weights are here, so the models have random weights and the
inputs are random; what is measured is the cost, not the accuracy.

Models: the PatchClassifier of
``configs/anchornet/imagenet/downstream/<arch>_anchornet-lsp_in1k.py``
(AnchorNet with 1,000 classes from the ImageNet AnchorNet config, and the
mmpretrain classifier), without checkpoints and with the classifier's
``init_cfg`` removed (nothing can be downloaded). By default both go
through :func:`mmfsod.classification.models.utils.optimize_for_inference`
(BN folding, AnchorNet's skipped test-time work, ``compile='jit'``; the
same classifier serves the patches and the full image); ``--no-optimize``
measures the models as built, ``--compile none`` without the trace.

Per image ``i`` (seeded): a random normalised input ``(1, 3, 224, 224)``
(standard normal); a branch drawn with the paper's shares; a patch count
``n = floor(m) + Bernoulli(m - floor(m))`` for the branch's mean ``m``
(5.6 -> 5 or 6 with P(6) = 0.6; 2.9 -> 2 or 3 with P(3) = 0.9; 2.1 -> 2 or 3
with P(3) = 0.1), so the expected count is the paper's mean. Timed, one
image at a time (batch 1), interleaved (the order of the two alternates
from image to image):

* patches: AnchorNet's real ``predict`` at 224 (backbone, head, decision
  eqs. 6-8 and the heatmaps), LSP (Algorithm 1, the downstream T / P with
  ``k_max = n``: at T = 0.8 it returns exactly ``n`` patches) on the drawn
  branch's heatmap of the decided class, the crops, and the classifier on
  the ``n`` patches of the branch's RF size in one batched forward;
* full: the classifier on the whole 224 image.

MACs: :func:`count_macs` (convolutions, linear layers and matrix products
only, :data:`MAC_OPS`) of AnchorNet at 224 and of the classifier at each
size, per image ``AnchorNet + n x classifier(rf)``; MACs ratio = mean patch
pipeline MACs / full-image MACs. CPU time ratio = the patch pipeline's total
time over the images / the full image's (the means' ratio). Untimed before:
``--warmup`` images and one classifier forward per possible patch batch
shape (oneDNN prepares its kernels per shape).

Backends (``--backend``, default ``pytorch``): with ``onnxruntime`` or
``openvino`` (the ``deploy`` extra) the classifier -- on the patches and on
the full image -- runs as an ONNX graph in that engine (exported from the
BN-folded classifier, :mod:`mmfsod.classification.models.utils.onnx_export`),
and so does AnchorNet's test path (exported from the BN-folded AnchorNet,
then the decision and the drawn branch's heatmap in NumPy), as
``PatchClassifier(backend=...)`` runs them
(:class:`~mmfsod.classification.models.utils.anchornet_backend.AnchorNetBackend`);
``--anchornet-in-pytorch`` keeps AnchorNet in PyTorch (``localizer.predict``,
as before issue 23's item 4). LSP and the crops stay in PyTorch / NumPy. The
CPU time ratio is then against that engine's full image. Every run also
times PyTorch's best full image (the classifier BN-folded and traced,
``compile='jit'``; the same timings as ``full`` when that is what is
measured) interleaved with the others, and prints one more line,
``versus PyTorch full image: T``, the pipeline's mean time over that one's.

Profile: before those lines, a table of the mean ms per image of each part
of the patch pipeline (:data:`PROFILE_PARTS`, timed inside the pipeline's
own timing): AnchorNet's forward (PyTorch: the backbone; an engine: the test
path, outputs to torch), the head's work (PyTorch: ``AnchorNetHead.predict``,
test logits, decision, every branch's heatmap; an engine: the decision and
the drawn branch's heatmap), the heatmap's copy to NumPy, LSP, the crops and
the classifier on the patches (with the softmax sum); with each part's share
of their sum and its ratio to the full image in the same backend.
"""
import copy
import math
import os.path as osp
import statistics
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
ARCHS = dict(resnet50='resnet50', resnext50='resnext50-32x4d',
             densenet169='densenet169')
# paper, section 4.3: images per branch of the 50k val images, mean patches
PAPER_IMAGES = dict(B63=15050, B95=18047, B111=16903)
PAPER_PATCHES = dict(B63=5.6, B95=2.9, B111=2.1)
INPUT_SIZE = 224
PAPER_RF = dict(B63=63, B95=95, B111=111)
# the timed parts of one image's patch pipeline, in order (--profile lines)
PROFILE_PARTS = ('anchornet', 'decision', 'to_numpy', 'lsp', 'crops', 'classifier')
PROFILE_LABELS = dict(
    anchornet='AnchorNet forward (backbone)',
    decision='head: test logits, decision (eqs. 6-8), heatmaps',
    to_numpy='heatmap to numpy', lsp='LSP (Algorithm 1)', crops='crops',
    classifier='classifier on the patches (+ softmax sum)')
ENGINE_LABELS = dict(  # AnchorNet in the engine (anchornet_backend)
    anchornet='AnchorNet forward (test path in {}, to torch)',
    decision='decision (eqs. 6-8), heatmap of the branch used')


def add_arguments(parser):
    group = parser.add_argument_group(
        'paper operating point (--paper-operating-point; no CONFIG CKPT pairs)')
    group.add_argument('--paper-operating-point', action='store_true',
                       help='AnchorNet + LSP + the --arch classifier at the '
                       "paper's branch shares and patch counts, random weights")
    group.add_argument('--arch', choices=sorted(ARCHS), default='resnet50')
    group.add_argument('--seed', type=int, default=0)
    group.add_argument('--no-optimize', action='store_true',
                       help='measure without optimize_for_inference (nor --compile)')
    group.add_argument('--channels-last', action='store_true',
                       help='optimize_for_inference(channels_last=True)')
    group.add_argument('--compile', choices=['none', 'jit', 'inductor'],
                       default='jit', help='optimize_for_inference(compile=...); '
                       'default jit (the fastest measured; none: BN folding and the '
                       'skipped test-time work only)')
    group.add_argument('--backend', choices=['pytorch', 'onnxruntime', 'openvino'],
                       default='pytorch', help='the engine of the classifier and '
                       "of AnchorNet (onnxruntime / openvino: pip install -e '.[deploy]')")
    group.add_argument('--anchornet-in-pytorch', action='store_true',
                       help='with an engine, keep AnchorNet in PyTorch (as before '
                       'issue 23 item 4; backend_cfg.anchornet_in_engine=False)')


def build(arch: str):
    """The PatchClassifier of the arch's downstream config, random weights."""
    from mmpretrain.registry import MODELS
    name = f'{ARCHS[arch]}_anchornet-lsp_in1k.py'
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', 'imagenet',
                                   'downstream', name))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.to_dict()
    model_cfg['localizer_checkpoint'] = None
    model_cfg['classifier'].pop('init_cfg', None)
    model_cfg['classifier'].get('backbone', {}).pop('init_cfg', None)
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    model = MODELS.build(model_cfg).eval()
    if model.localizer.head.num_classes != 1000:
        raise ValueError(f'{name}: the localizer has '
                         f'{model.localizer.head.num_classes} classes, not 1000')
    return model


def draw_plan(num_images: int, seed: int):
    """Per image: (branch, patch count); see the module docstring."""
    rng = np.random.default_rng(seed)
    names = list(PAPER_IMAGES)
    shares = np.array([PAPER_IMAGES[n] for n in names], dtype=float)
    branches = rng.choice(len(names), size=num_images, p=shares / shares.sum())
    plan = []
    for b in branches:
        name = names[int(b)]
        mean = PAPER_PATCHES[name]
        n = int(math.floor(mean)) + int(rng.random() < mean - math.floor(mean))
        plan.append((name, n))
    return plan


def run(args):
    """Measure and print; return the result dict."""
    from mmfsod.classification import lsp
    from mmfsod.classification.models.classifiers.patch_classifier import count_macs
    from mmfsod.classification.models.utils import optimize_for_inference
    from mmfsod.classification.models.utils.anchornet_backend import AnchorNetBackend
    from mmfsod.classification.models.utils.inference_backends import require_backend
    backend = getattr(args, 'backend', 'pytorch')
    require_backend(backend, '--backend')
    threads = 2 if args.threads is None else args.threads
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    model = build(args.arch)
    localizer, classifier = model.localizer, model.classifier
    geometry = model.geometry((INPUT_SIZE, INPUT_SIZE))
    setting = lsp.DOWNSTREAM
    # PyTorch's best full image: BN folded and traced (the classifier's own
    # timings when that is what this run measures)
    same_ref = (backend == 'pytorch' and not args.no_optimize
                and args.compile == 'jit' and not args.channels_last)
    torch_full = None
    if not same_ref:
        torch_full = optimize_for_inference(copy.deepcopy(classifier), compile='jit')
    if not args.no_optimize:
        optimize_for_inference(model, channels_last=args.channels_last)
    # MACs of the models as they run (compile does not change them)
    full_shape = (1, 3, INPUT_SIZE, INPUT_SIZE)
    anchornet_macs = count_macs(localizer, full_shape)
    full_macs = count_macs(classifier, full_shape)
    patch_macs = {n: count_macs(classifier, (1, 3, g.rf, g.rf))
                  for n, g in geometry.items()}
    engine = None
    if backend != 'pytorch':
        engine = export_engine(classifier, backend, threads)
    compile_s = 0.0
    if args.no_optimize:
        args.compile = 'none'
    if args.compile != 'none':
        start = time.perf_counter()
        optimize_for_inference(model, fuse_bn=False, skip_unused=False,
                               channels_last=args.channels_last,
                               compile=args.compile)
        compile_s = time.perf_counter() - start
    # AnchorNet in the classifier's engine, as PatchClassifier(backend=...) runs it
    anchornet = AnchorNetBackend(backend, dict(
        num_threads=threads, anchornet_in_engine=not args.anchornet_in_pytorch))
    anchornet_in = backend if anchornet.uses_engine(localizer) else 'pytorch'
    if anchornet_in != 'pytorch':
        anchornet.engine(localizer)  # exported here, not timed
    plan = draw_plan(args.num_images, args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images = [torch.randn(full_shape, generator=gen) for _ in plan]

    def classify(x):
        if engine is not None:
            return engine(x)[0]  # (N, K)
        logits = classifier(x, mode='tensor')
        return logits[-1] if isinstance(logits, (tuple, list)) else logits

    def classify_torch_full(x):
        logits = torch_full(x, mode='tensor')
        return logits[-1] if isinstance(logits, (tuple, list)) else logits

    def patches_of(x, branch, n, parts=None):
        # ``parts``: PROFILE_PARTS name -> seconds of this call, when given
        ticks = [time.perf_counter()]
        # PyTorch: the backbone, then AnchorNetHead.predict (localizer.predict);
        # an engine: the test path, then the decision and the branch's heatmap
        raw = anchornet.forward(localizer, x)
        ticks.append(time.perf_counter())
        decision = anchornet.decide(localizer, raw, branch)[0]  # eqs. 6-8, heatmap
        ticks.append(time.perf_counter())
        heatmap = decision.heatmap.float().cpu().numpy()  # (h, w)
        ticks.append(time.perf_counter())
        geo = geometry[branch]
        found = lsp.localize_semantic_patches(
            heatmap, geo, k_max=n, iou_thr=setting[branch]['iou_thr'],
            coverage=setting[branch]['coverage'])
        ticks.append(time.perf_counter())
        crops = torch.stack([x[0, :, y1:y2, x1:x2]
                             for x1, y1, x2, y2 in found.boxes.tolist()])
        ticks.append(time.perf_counter())
        probs = classify(crops).softmax(dim=-1)  # (n, K)
        score = probs.sum(dim=0)
        ticks.append(time.perf_counter())
        if parts is not None:
            parts.update((name, b - a) for name, a, b in
                         zip(PROFILE_PARTS, ticks[:-1], ticks[1:]))
        return score, len(crops)

    with torch.no_grad():
        compile_warm = time.perf_counter()
        for branch, geo in geometry.items():  # every patch batch shape
            m = PAPER_PATCHES[branch]
            for n in sorted({math.floor(m), math.ceil(m)}):
                classify(torch.zeros(n, 3, geo.rf, geo.rf))
        for i in range(args.warmup):
            branch, n = plan[i % len(plan)]
            patches_of(images[i % len(plan)], branch, n)
            classify(images[i % len(plan)])
            if torch_full is not None:
                classify_torch_full(images[i % len(plan)])
        if args.compile == 'inductor':  # compiled on the first call per shape
            compile_s += time.perf_counter() - compile_warm
        records = []
        for i, ((branch, n), x) in enumerate(zip(plan, images)):
            times, parts = {}, {}
            order = ['patches', 'full'] + ([] if torch_full is None else ['torch_full'])
            k = i % len(order)
            for which in order[k:] + order[:k]:  # rotated from image to image
                start = time.perf_counter()
                if which == 'patches':
                    _, used = patches_of(x, branch, n, parts)
                elif which == 'full':
                    classify(x)
                else:
                    classify_torch_full(x)
                times[which] = time.perf_counter() - start
            times.setdefault('torch_full', times['full'])
            records.append(dict(branch=branch, n=used, macs=anchornet_macs +
                                used * patch_macs[branch], parts=parts, **times))
    mean = statistics.fmean
    result = dict(
        arch=args.arch, backend=backend, anchornet_in=anchornet_in,
        threads=torch.get_num_threads(),
        images=len(records),
        optimized=not args.no_optimize, channels_last=args.channels_last,
        compile=args.compile, compile_s=compile_s,
        anchornet_gmacs=anchornet_macs / 1e9, full_gmacs=full_macs / 1e9,
        patch_gmacs={n: v / 1e9 for n, v in patch_macs.items()},
        patches=mean(r['n'] for r in records),
        pipeline_gmacs=mean(r['macs'] for r in records) / 1e9,
        pipeline_ms=1e3 * mean(r['patches'] for r in records),
        full_ms=1e3 * mean(r['full'] for r in records),
        torch_full_ms=1e3 * mean(r['torch_full'] for r in records),
        pipeline_median_ms=1e3 * statistics.median(r['patches'] for r in records),
        full_median_ms=1e3 * statistics.median(r['full'] for r in records))
    result['macs_ratio'] = result['pipeline_gmacs'] / result['full_gmacs']
    result['time_ratio'] = result['pipeline_ms'] / result['full_ms']
    result['vs_torch_full'] = result['pipeline_ms'] / result['torch_full_ms']
    result['profile_ms'] = {name: 1e3 * mean(r['parts'][name] for r in records)
                            for name in PROFILE_PARTS}
    print(format_result(result, records))
    return result


def format_result(result, records) -> str:
    lines = [f'{result["arch"]}, classifier in {result["backend"]}, '
             f'{result["images"]} images of 224 x 224, batch 1, '
             f'torch threads {result["threads"]}, optimize_for_inference: '
             + ('no' if not result['optimized'] else
                f'yes (channels_last={result["channels_last"]}, compile='
                f'{result["compile"]})')
             + (f', compile {result["compile_s"]:.1f} s' if result['compile'] != 'none'
                else ''),
             f'AnchorNet {result["anchornet_gmacs"]:.4f} GMACs (in '
             f'{result["anchornet_in"]}); classifier '
             f'{result["full_gmacs"]:.4f} GMACs at 224, '
             + ', '.join(f'{v:.4f} at {n}' for n, v in result['patch_gmacs'].items()),
             '| branch | images | patches / image | GMACs / image | patches ms (mean) '
             '| full ms (mean) |', '|---|---|---|---|---|---|']
    for branch in PAPER_IMAGES:
        rows = [r for r in records if r['branch'] == branch]
        if not rows:
            continue
        lines.append(
            f'| {branch} | {len(rows)} | {statistics.fmean(r["n"] for r in rows):.2f} | '
            f'{statistics.fmean(r["macs"] for r in rows) / 1e9:.3f} | '
            f'{1e3 * statistics.fmean(r["patches"] for r in rows):.1f} | '
            f'{1e3 * statistics.fmean(r["full"] for r in rows):.1f} |')
    lines.append(
        f'all: {result["patches"]:.2f} patches / image, {result["pipeline_gmacs"]:.3f} '
        f'vs {result["full_gmacs"]:.3f} GMACs, {result["pipeline_ms"]:.1f} vs '
        f'{result["full_ms"]:.1f} ms mean ({result["pipeline_median_ms"]:.1f} vs '
        f'{result["full_median_ms"]:.1f} median)')
    lines.append(f'PyTorch full image (BN folded, jit): {result["torch_full_ms"]:.1f} ms '
                 'mean')
    lines.extend(format_profile(result))
    lines.append(f'paper operating point ({result["arch"]}): MACs ratio '
                 f'{result["macs_ratio"]:.2f}, CPU time ratio {result["time_ratio"]:.2f}')
    lines.append(f'versus PyTorch full image: {result["vs_torch_full"]:.2f}')
    return '\n'.join(lines)


def format_profile(result) -> list:
    """The profile's lines: mean ms per image of every part of the patch
    pipeline, its share of the pipeline's sum of parts and its ratio to the
    full image (same backend)."""
    prof = result['profile_ms']
    total = sum(prof.values())
    lines = ['profile of the patch pipeline (mean ms / image; share of the parts\' '
             'sum; / full image):',
             '| part | ms | share | / full image |', '|---|---|---|---|']
    engine = result['anchornet_in'] != 'pytorch'
    for name, ms in prof.items():
        label = PROFILE_LABELS[name]
        if engine and name in ENGINE_LABELS:
            label = ENGINE_LABELS[name].format(result['anchornet_in'])
        lines.append(f'| {label} | {ms:.2f} | {100 * ms / total:.1f} % | '
                     f'{ms / result["full_ms"]:.3f} |')
    lines.append(f'| sum of the parts | {total:.2f} | 100 % | '
                 f'{total / result["full_ms"]:.3f} |')
    lines.append(f'| full image ({result["backend"]}) | {result["full_ms"]:.2f} | | 1 |')
    return lines


def export_engine(classifier, backend: str, threads: int):
    """The classifier as an ONNX graph (dynamic batch and size) in ``backend``."""
    from mmfsod.classification.models.utils.inference_backends import build_engine
    from mmfsod.classification.models.utils.onnx_export import (ClassifierLogits,
                                                                export_onnx)
    with tempfile.TemporaryDirectory(prefix='mmfsod-paper-point-') as folder:
        path = osp.join(folder, 'classifier.onnx')
        export_onnx(ClassifierLogits(classifier), path, 'classifier',
                    classifier.head.num_classes, min(PAPER_RF.values()), INPUT_SIZE)
        return build_engine(backend, path, threads)  # the engine holds the graph
