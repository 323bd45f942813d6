"""Files written whole or not at all: a temporary file in the same folder,
then ``os.replace``."""
import json
import os
import os.path as osp
import tempfile
from typing import Callable


def atomic_write(path: str, write: Callable[[str], None], suffix: str = '.tmp') -> str:
    """Call ``write(tmp)`` on a temporary path next to ``path`` and move it
    into place; on any error the temporary file is removed and ``path`` is
    left as it was."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def dump_json_atomic(obj, path: str, indent=None) -> str:
    """``json.dump`` of ``obj`` to ``path``, whole or not at all."""
    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=indent)
    return atomic_write(path, write)
