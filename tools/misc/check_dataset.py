"""Check a config's data before training.

    python tools/misc/check_dataset.py CONFIG [--cfg-options k=v ...]

Loads the annotation files of the config's train / val / test datasets (and
of its other ``*_dataset`` entries, e.g. the custom template's fine-tuning
K-shot files), checks every class name (config vs json), every image path
and every K-shot file, and prints per dataset its images / boxes / classes
and the query-support pairs it can make (with the images that need the
fewer-ways rule). Exits 1 with one line per problem, naming the config key
and the file (or class); 0 when the data is usable. Same check:
``tools/misc/print_config.py CONFIG --check-data``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import DictAction  # noqa: E402


def print_report(report, config: str) -> int:
    """Print the report of :func:`~mmfsod.utils.data_check.check_config`;
    the exit code (1 with problems)."""
    for line in report.lines:
        print(line)
    for line in report.problems:
        print(f'problem: {line}')
    if report.problems:
        print(f'{config}: {len(report.problems)} data problem(s)', flush=True)
        return 1
    print(f'{config}: the data is usable', flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Check the data of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value pairs')
    args = parser.parse_args(argv)
    from mmfsod.utils.data_check import check_config
    from mmfsod.utils.tools import load_config
    try:
        cfg = load_config(args.config, args.cfg_options)
    except Exception as exc:  # noqa: BLE001 (the config itself: one line)
        print(f'problem: {args.config}: {type(exc).__name__}: '
              f'{" ".join(str(exc).split())}', flush=True)
        return 1
    return print_report(check_config(cfg), args.config)


if __name__ == '__main__':
    sys.exit(main())
