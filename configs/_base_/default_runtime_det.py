# Runtime shared by every detection config (mmdet scope).
default_scope = 'mmdet'
# Registers mmfsod's detection modules and activates mmfsod.compat
# (checkpoint loading on torch >= 2.6, CPU distributed training).
custom_imports = dict(imports=['mmfsod.detection'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=5000, by_epoch=False,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # checkpoints carry every rank's random states; --resume restores them
    # (mmfsod.engine.RandomStateHook: bit-exact resume on the CPU)
    random_state=dict(type='RandomStateHook'),
    # a training whose loss turns NaN or infinite stops there (checked every
    # 20 iterations) instead of training on and testing to zeros
    check_invalid_loss=dict(type='CheckInvalidLossHook', interval=20),
    visualization=dict(type='DetVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; mmfsod.compat switches to gloo where no GPU is available.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
