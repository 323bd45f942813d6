# A new shot setting and split seed is a few lines over the 10-shot config:
# the toy benchmark's 5-shot files of seed 1 (`make toy-fsod-splits` writes
# seeds 0-2), a shorter schedule for fewer instances.
_base_ = ['./gcn-fsod_r18_c4_toy_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5, seed=1))))

max_iters = 200
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[130], gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
