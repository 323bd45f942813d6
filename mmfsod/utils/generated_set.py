"""Write a generated data set once: idempotent, process-safe and atomic.

The toy sets (:mod:`mmfsod.utils.toy_shapes`, :mod:`mmfsod.utils.toy_clutter`)
are generated on first use, possibly by several processes at once (ranks,
dataloader workers, a second command). :func:`write_set_once` makes that safe:

* a file lock next to the set lets one process write while the others wait
  and then find the set complete;
* a set made with the same parameters is reused (``'exists'``); one made with
  other parameters, or a directory of unrelated files, is an error naming
  both, unless ``overwrite``;
* the set is written into a temporary sibling directory and swapped in, so a
  crash never leaves a half-written set that looks complete.
"""
import fcntl
import math
import numbers
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import asdict
from typing import Any, Callable, Iterable, Optional


class SpecChecker:
    """Validate a generator spec, raising ``ValueError('<name>: <what>')``.

    Args:
        spec: the spec (a dataclass instance).
        name (str): the set's name, the start of every message
            (``'toy shapes'``).
        ints (Iterable[str]): fields that must be integers (``bool`` is not).
        reals (Iterable[str]): fields that must be finite numbers.
    """

    def __init__(self, spec: Any, name: str, ints: Iterable[str] = (),
                 reals: Iterable[str] = ()):
        self.name = name
        for field in ints:
            value = getattr(spec, field)
            self.need(isinstance(value, numbers.Integral) and not isinstance(value, bool),
                      f'{field} must be an integer, got {value!r}')
        for field in reals:
            value = getattr(spec, field)
            self.need(isinstance(value, numbers.Real) and not isinstance(value, bool)
                      and math.isfinite(value), f'{field} must be a number, got {value!r}')

    def need(self, ok: bool, msg: str) -> None:
        """Raise ``ValueError`` with ``msg`` unless ``ok``."""
        if not ok:
            raise ValueError(f'{self.name}: {msg}')


def write_set_once(out_dir: str, spec: Any, read_spec: Callable[[str], Optional[Any]],
                   write: Callable[[str], None], name: str,
                   overwrite: bool = False) -> str:
    """Write the set described by ``spec`` under ``out_dir`` unless it is there.

    Args:
        out_dir (str): the set's directory.
        spec (dataclass): the set's parameters (compared with ``==``).
        read_spec (callable): ``read_spec(dir)`` -> the spec of the complete
            set in ``dir``, or None if ``dir`` holds no complete set.
        write (callable): ``write(dir)`` writes the whole set into the empty
            directory ``dir`` (a temporary one, renamed to ``out_dir`` after).
        name (str): what the set is called in messages, e.g. ``'toy shapes'``.
        overwrite (bool): replace a set made with other parameters instead of
            raising.

    Returns:
        str: ``'exists'`` if ``out_dir`` already held this exact set,
        ``'generated'`` otherwise.

    Raises:
        ValueError: ``out_dir`` holds a set made with other parameters or
            unrelated files, and ``overwrite`` is False.
    """
    out_dir = osp.abspath(out_dir.rstrip('/'))
    os.makedirs(osp.dirname(out_dir), exist_ok=True)
    with open(out_dir + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            existing = read_spec(out_dir)
            if existing == spec:
                return 'exists'
            if osp.exists(out_dir) and os.listdir(out_dir) and not overwrite:
                if existing is None:
                    raise ValueError(
                        f'{name}: {out_dir} exists and is not a complete {name} set; '
                        'remove it or choose another output directory')
                raise ValueError(
                    f'{name}: {out_dir} was generated with {asdict(existing)}, but '
                    f'{asdict(spec)} was asked for; remove it, pass overwrite=True '
                    '(--overwrite), or use another directory')
            tmp = tempfile.mkdtemp(prefix=f'.{name.replace(" ", "_")}_tmp_',
                                   dir=osp.dirname(out_dir))
            try:
                write(tmp)
                os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700
                if osp.exists(out_dir):
                    shutil.rmtree(out_dir)
                os.replace(tmp, out_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return 'generated'
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generator_cli(argv, spec_cls, generate: Callable[..., str], default_out: str,
                  description: str, summary: Callable[[Any], str]) -> int:
    """The command line of a toy-set generator: one ``--option`` per field of
    the ``spec_cls`` dataclass (but ``version``), ``--out`` and
    ``--overwrite``; an argument out of range exits with status 2 and the
    generator's message. Prints ``'<generated|kept existing> <summary(spec)>
    (<seconds> s)'``."""
    import argparse
    import time
    from dataclasses import fields

    names = [f for f in fields(spec_cls) if f.name != 'version']
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=default_out, help='output directory')
    for f in names:
        parser.add_argument('--' + f.name.replace('_', '-'), type=type(f.default),
                            default=f.default, help=f'(default: {f.default})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set generated with other arguments')
    args = parser.parse_args(argv)
    start = time.time()
    try:
        spec = spec_cls(**{f.name: getattr(args, f.name) for f in names})
        status = generate(args.out, spec, overwrite=args.overwrite)
    except ValueError as exc:
        parser.error(str(exc))
    verb = 'kept existing' if status == 'exists' else 'generated'
    print(f'{verb} {summary(spec)} in {args.out} ({time.time() - start:.1f} s)')
    return 0
