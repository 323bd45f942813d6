# TFA's detector: Faster R-CNN R-101-FPN (detectron2's Base-RCNN-FPN.yaml
# with RESNETS.DEPTH 101) with MSRA's caffe-style ImageNet R-101 (here
# mmdet's copy of detectron2's weights, as mmfewshot's TFA configs use).
_base_ = ['./faster-rcnn_r18_fpn.py']

model = dict(
    # caffe-style weights: BGR input, mean subtracted, no std
    data_preprocessor=dict(mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False),
    backbone=dict(
        depth=101,
        norm_cfg=dict(type='BN', requires_grad=False),
        style='caffe',
        init_cfg=dict(type='Pretrained',
                      checkpoint='open-mmlab://detectron2/resnet101_caffe')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
