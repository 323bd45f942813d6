# Shared by the tiny toy-VOC test configs: the 40-image toy set in VOC's
# layout (MMFSOD_TEST_TOY_VOC_ROOT, written by tests/test_tools/
# test_voc_toy_tools.py) at most 160 px. Only tiny_* names here, so that this
# file can sit beside a real config in _base_.
tiny_generate = dict(num_train=40, num_val=6, min_size=128, max_size=160, seed=0)
tiny_img_scale = (160, 160)
tiny_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=tiny_img_scale, keep_ratio=True),
    dict(type='PackDetInputs')
]
tiny_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=tiny_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
