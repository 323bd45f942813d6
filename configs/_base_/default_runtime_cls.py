# Runtime shared by every classification config (mmpretrain scope), after
# mmpretrain's configs/_base_/default_runtime.py.
default_scope = 'mmpretrain'
# Registers mmfsod's classification modules and activates mmfsod.compat
# (checkpoint loading on torch >= 2.6, CPU distributed training).
custom_imports = dict(imports=['mmfsod.classification'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # checkpoints carry every rank's random states; --resume restores them
    # (mmfsod.engine.RandomStateHook: bit-exact resume on the CPU)
    random_state=dict(type='RandomStateHook'),
    # drawn predictions on validation/test images: tools/test.py --show-dir
    visualization=dict(type='VisualizationHook', enable=False))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; mmfsod.compat switches to gloo where no GPU is available.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
