"""Print the fully merged config (after ``_base_`` inheritance and overrides).

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...] [--save-path out.py]
                                      [--build-model] [--check-data]

``--build-model`` also builds the config's model from its registry scope
(without initialising weights: nothing is downloaded) and prints its class
and parameter count. ``--check-data`` also checks the config's data as
``tools/misc/check_dataset.py`` does (class names, annotation, image and
K-shot files, the pairs that can be made); with a problem the exit code is 1.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # check_dataset.py

from mmengine.config import DictAction  # noqa: E402

from mmfsod.utils.tools import load_config  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--save-path', help='also write the merged config here (.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value pairs')
    parser.add_argument('--build-model', action='store_true',
                        help='also build the model and print its parameter count')
    parser.add_argument('--check-data', action='store_true',
                        help='also check the data (as tools/misc/check_dataset.py); '
                        'exit code 1 with a problem')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'saved the merged config to {args.save_path}')
    if args.build_model:
        from mmengine.registry import MODELS, init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmengine'))
        model = MODELS.build(cfg.model)
        params = sum(p.numel() for p in model.parameters())
        print(f'built {type(model).__name__} (scope {cfg.get("default_scope")}): '
              f'{params / 1e6:.2f} M parameters')
    if args.check_data:
        from check_dataset import print_report

        from mmfsod.utils.data_check import check_config
        return print_report(check_config(cfg), args.config)
    return 0


if __name__ == '__main__':
    sys.exit(main())
