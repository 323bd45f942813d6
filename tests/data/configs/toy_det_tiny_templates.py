# toy_det_tiny.py with support templates recorded (at most 3 per class, seed 0)
# for the classes the tiny training set has.
_base_ = ['./toy_det_tiny.py']

custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=3, seed=0,
         classes=('red_circle', 'green_square', 'blue_triangle', 'orange_ring'))
]
