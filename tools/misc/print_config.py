"""Print the fully merged config (after ``_base_`` inheritance and overrides).

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...] [--save-path out.py]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import DictAction  # noqa: E402

from mmfsod.utils.tools import load_config  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--save-path', help='also write the merged config here (.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value pairs')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(cfg.pretty_text)
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'saved the merged config to {args.save_path}')


if __name__ == '__main__':
    main()
