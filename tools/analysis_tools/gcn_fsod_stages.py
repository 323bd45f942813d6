"""Cases of ``benchmark_gcn_fsod.py`` that run a whole model: the detector's
meta-test stages, training iterations, and the allocator-level peak memory.

Peak memory here is measured with ``torch.profiler`` (``profile_memory=True``):
every allocation and free of PyTorch's CPU (or CUDA) allocator during the call
is recorded with its time; the peak is the largest running sum of their sizes
over the memory in use when the window opened. It sees the temporaries that a
call frees again (which ``tracemalloc`` and a before/after difference do not)
and no Python objects; it is blind to buffers that kernels allocate outside
PyTorch's allocator (e.g. oneDNN scratch space).
"""
import copy
import os.path as osp
import statistics
import time
from contextlib import contextmanager

import torch

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
PAPER_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'gcn-fsod_r50_c4.py')
TRAIN_CONFIGS = (
    ('GCN-FSOD toy, lcrpn', 'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py',
     'lcrpn'),
    ('GCN-FSOD toy, global_kernel',
     'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py', 'global_kernel'),
    ('Faster R-CNN R18-FPN toy (mmdet)', 'configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py',
     None))
STAGES = ('backbone', 'rpn', 'roi_head', 'merge')
SEED = 0


def takes_query_groups(fn) -> bool:
    """Whether a graph / RPN head ``forward`` can share a query (``query_groups``)."""
    import inspect
    return 'query_groups' in inspect.signature(fn).parameters


def profiled(call, windows=False):
    """Run ``call()`` once under the profiler; returns its output and the
    allocator peak in MB over the call, or, with ``windows``, a dict of the
    peak of each ``record_function('stage:NAME')`` window."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities, profile_memory=True) as prof:
        out = call()
    events = list(prof.profiler.kineto_results.events())
    memory = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == '[memory]')
    times, live, level = [], [], 0
    for stamp, nbytes in memory:
        level += nbytes
        times.append(stamp)
        live.append(level)

    def peak(start, end):
        before = [v for t, v in zip(times, live) if t < start]
        base = before[-1] if before else 0
        inside = [v for t, v in zip(times, live) if start <= t <= end]
        return (max(inside + [base]) - base) / 2**20

    if not windows:
        return out, peak(-1, float('inf'))
    spans = {}
    for e in events:
        if e.name().startswith('stage:'):
            name = e.name()[len('stage:'):]
            spans[name] = max(spans.get(name, 0.0),
                              peak(e.start_ns(), e.start_ns() + e.duration_ns()))
    return out, spans


class StageClock:
    """Wall time and a profiler window per stage of ``QuerySupportDetector.predict``,
    by wrapping its stage methods on the instance (the model code is untouched)."""

    def __init__(self, model, sync):
        self.times = {}
        self.sync = sync
        targets = dict(backbone=(model, 'extract_feat'),
                       rpn=(model.rpn_head, 'predict_pairs'),
                       roi_head=(model.roi_head, 'predict_pairs'),
                       merge=(model, '_merge_classes' if hasattr(model, '_merge_classes')
                              else 'add_pred_to_datasample'))
        for stage, (owner, attr) in targets.items():
            setattr(owner, attr, self._wrap(stage, getattr(owner, attr)))

    def _wrap(self, stage, fn):
        from torch.profiler import record_function

        def timed(*args, **kwargs):
            self.sync()
            start = time.perf_counter()
            with record_function(f'stage:{stage}'):
                out = fn(*args, **kwargs)
                self.sync()
            self.times[stage] = self.times.get(stage, 0.0) + time.perf_counter() - start
            return out

        return timed

    @contextmanager
    def call(self):
        self.times.clear()
        yield self.times


def build_detector(args, device, rpn_type):
    """The paper model with random weights and one template shot per class;
    returns it and a ``predict`` call on one random query image."""
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    import mmfsod.detection  # noqa: F401

    init_default_scope('mmdet')
    cfg = Config.fromfile(PAPER_MODEL).model
    cfg.backbone.init_cfg = None  # random weights, nothing downloaded
    cfg.roi_head.shared_head.init_cfg = None
    cfg.rpn_head.rpn_type = rpn_type
    cfg.class_chunk = args.classes
    if args.rois_per_class:
        cfg.test_cfg.rpn.max_per_img = args.rois_per_class
    torch.manual_seed(SEED)
    model = MODELS.build(cfg).to(device).eval()
    gen = torch.Generator().manual_seed(SEED)
    side = args.support_img_size
    model.set_support_templates({
        label: (torch.randint(0, 256, (1, 3, side, side), generator=gen,
                              dtype=torch.uint8).to(device),
                InstanceData(bboxes=torch.tensor([[0., 0., side, side]], device=device)))
        for label in range(args.classes)})
    height, width = args.query_size
    image = torch.randn(1, 3, height, width, generator=gen).to(device)  # normalised
    meta = dict(img_shape=(height, width), ori_shape=(height, width),
                scale_factor=(1.0, 1.0))
    with torch.no_grad():
        model._class_feats()  # the templates' features: once per test set, not timed

    def call():
        with torch.no_grad():
            return model.predict(image, [DetDataSample(metainfo=meta)])[0].pred_instances

    return model, call


def detector_case(args, device, rpn_types):
    """Every RPN type's detector in one process, their predict calls
    alternated (a load change on a shared machine hits them alike): ms and
    allocator peak per stage, per type."""
    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    models = {rpn: build_detector(args, device, rpn) for rpn in rpn_types}
    clocks = {rpn: StageClock(model, sync) for rpn, (model, _) in models.items()}
    peaks, runs, dets = {}, {rpn: [] for rpn in rpn_types}, {}
    for rpn, (_, call) in models.items():  # warm-up, profiled: peak of each stage
        with clocks[rpn].call():
            _, peaks[rpn] = profiled(call, windows=True)
    for _ in range(args.detector_repeats):
        for rpn, (_, call) in models.items():
            with clocks[rpn].call() as times:
                sync()
                start = time.perf_counter()
                dets[rpn] = call()
                sync()
                runs[rpn].append(dict(times, total=time.perf_counter() - start))
    result, outs = {}, []
    for rpn in rpn_types:
        res = {stage: dict(ms=1e3 * statistics.median(r[stage] for r in runs[rpn]),
                           peak_mb=peaks[rpn].get(stage, 0.0)) for stage in STAGES}
        res['total'] = dict(ms=1e3 * statistics.median(r['total'] for r in runs[rpn]))
        res['rest'] = dict(ms=res['total']['ms'] - sum(res[s]['ms'] for s in STAGES))
        res['detections'] = len(dets[rpn])
        res['rois'] = args.classes * models[rpn][0].test_cfg.rpn.max_per_img
        result[rpn] = res
        outs.append(torch.cat([dets[rpn].scores, dets[rpn].bboxes.flatten()]))
    return result, torch.cat(outs)


def graph_peak_case(args, device):
    """The paper's dense graph (1024 -> 256 -> 256) on ``--classes`` pairs that
    share one query, no_grad: allocator peak (MB) and ms of one call."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmfsod.detection  # noqa: F401

    init_default_scope('mmdet')
    head = Config.fromfile(PAPER_MODEL).model.rpn_head
    graph_cfg = dict(head.graph, in_channels=head.in_channels,
                     out_channels=head.feat_channels, chunk_size=None)
    torch.manual_seed(SEED)
    graph = MODELS.build(graph_cfg).to(device)
    q_h, q_w = (-(-s // 16) for s in args.query_size)
    side = -(-args.support_img_size // 16)
    query = torch.randn(1, head.in_channels, q_h, q_w).relu().to(device)
    supports = torch.randn(args.classes, head.in_channels, side, side).relu().to(device)
    pair_q = query.expand(args.classes, -1, -1, -1)
    # a graph without query_groups (before the sharing) gets the pairs alone
    groups = ([[0] * args.classes] if takes_query_groups(graph.forward) else [])
    with torch.no_grad():
        graph(supports[:1, :, :2, :2], pair_q[:1, :, :2, :2])  # lazy kernels
        start = time.perf_counter()
        graph(supports, pair_q, *groups)
        ms = 1e3 * (time.perf_counter() - start)
        out, peak = profiled(lambda: graph(supports, pair_q, *groups))
    return dict(ms=ms, peak_mb=peak), out.flatten()[:1000]


def train_case(args, device, index, data_root):
    """ms per training iteration of a toy config (data loaded beforehand)."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import mmfsod.detection  # noqa: F401

    init_default_scope('mmdet')
    _, path, rpn_type = TRAIN_CONFIGS[index]
    cfg = Config.fromfile(osp.join(REPO, path))
    if rpn_type:
        cfg.model.rpn_head.rpn_type = rpn_type
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    inner = dataset_cfg.get('dataset', dataset_cfg)  # QuerySupportDataset wraps one
    inner.data_root = data_root
    inner.generate = dict(num_train=args.train_images, num_val=2, seed=0)
    dataset = DATASETS.build(dataset_cfg)
    batch_size = args.train_batch or cfg.train_dataloader.batch_size
    torch.manual_seed(SEED)
    model = MODELS.build(cfg.model).to(device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batches = [pseudo_collate([dataset[(it * batch_size + i) % len(dataset)]
                               for i in range(batch_size)])
               for it in range(args.train_iters + 1)]
    times = []
    for it, batch in enumerate(batches):  # the first iteration is a warm-up
        start = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if it:
            times.append(time.perf_counter() - start)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    return (dict(ms=1e3 * statistics.median(times), batch_size=batch_size,
                 loss=float(loss)), torch.tensor([float(loss)]))
