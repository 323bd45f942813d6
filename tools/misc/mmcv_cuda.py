"""Does this machine need mmcv's CUDA ops, and can they be built here?

Used by ``tools/misc/setup_env.sh`` (step 4) and ``tools/misc/check_env.py``.
Run with the environment's interpreter, it probes torch, the CUDA toolkit
and the installed mmcv, then prints ONE word on its last stdout line (the
reasons go to stderr):

* ``keep``: the installed mmcv has the ops this machine needs;
* ``cpu``: CPU ops are enough and mmcv.ops does not import: install mmcv
  2.1.0 as usual (a cached or PIP_FIND_LINKS wheel is fine);
* ``cuda <CUDA_HOME> [<include dirs>]``: CUDA ops are needed and missing:
  build mmcv from source with ``FORCE_CUDA=1`` and that ``CUDA_HOME`` (never
  a wheel), with the include dirs (``:``-separated, for ``CPATH``) of the CUDA
  library headers the toolkit lacks but torch's pip packages have
  (``site-packages/nvidia/cu13/include``: a toolkit of nvcc and the runtime
  only);

and exits 1, naming what is missing, when CUDA ops are needed but cannot be
built (no nvcc, an nvcc whose major version is not torch's, a CPU-only torch
on a machine whose nvidia-smi lists GPUs).

CUDA ops are needed when torch is a CUDA build and sees a GPU, or when
``MMFSOD_CUDA=1`` (or ``FORCE_CUDA=1``) asks for them, e.g. on a GPU-less
build node; ``MMFSOD_CUDA=0`` asks for CPU ops only.

The decision (:func:`decide`) is a pure function of a :class:`CudaEnv`, so
it is tested with made-up environments; :func:`probe` fills one in.
"""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

MMCV_VERSION = '2.1.0'
#: what mmcv.ops.get_compiling_cuda_version() returns for a CPU-only build
NOT_AVAILABLE = 'not available'
#: CUDA library headers that torch's ATen/cuda/CUDAContextLight.h includes
#: (so every mmcv .cu file through pytorch_cuda_helper.hpp)
LIBRARY_HEADERS = ('cusparse.h', 'cublas_v2.h', 'cublasLt.h', 'cusolverDn.h')


@dataclass
class CudaEnv:
    """What :func:`decide` needs to know about the machine.

    Attributes:
        torch_cuda: ``torch.version.cuda`` ('13.0'), None for a CPU build.
        gpu_count: GPUs torch sees (0 unless ``torch.cuda.is_available()``).
        gpus_listed: GPUs ``nvidia-smi -L`` lists (0 without the tool); it
            tells a GPU machine whose torch cannot see its GPUs.
        cuda_home: the CUDA toolkit found (:func:`find_cuda_home`) or None.
        nvcc_version: its ``nvcc --version`` release ('13.0') or None.
        mmcv_ops: whether ``import mmcv.ops`` works.
        mmcv_cuda: ``mmcv.ops.get_compiling_cuda_version()`` ('13.0', or
            'not available' for CPU-only ops); None when mmcv.ops does not
            import.
        request: '1' (MMFSOD_CUDA=1 / FORCE_CUDA=1: CUDA ops wanted), '0'
            (MMFSOD_CUDA=0: CPU ops only) or '' (auto).
        toolkit_problem: why no toolkit was found (a bad CUDA_HOME, ...).
        extra_includes: include dirs with the LIBRARY_HEADERS the toolkit
            lacks (torch's pip CUDA packages).
        missing_headers: LIBRARY_HEADERS found nowhere.
    """
    torch_cuda: Optional[str] = None
    gpu_count: int = 0
    gpus_listed: int = 0
    cuda_home: Optional[str] = None
    nvcc_version: Optional[str] = None
    mmcv_ops: bool = False
    mmcv_cuda: Optional[str] = None
    request: str = ''
    toolkit_problem: Optional[str] = None
    extra_includes: Tuple[str, ...] = ()
    missing_headers: Tuple[str, ...] = ()


def _major(version: Optional[str]) -> Optional[str]:
    return version.split('.')[0] if version else None


def rebuild_command(cuda_home: Optional[str] = None, python: str = 'python') -> str:
    """The shell command that builds mmcv's CUDA ops into ``python``'s
    environment."""
    home = f'CUDA_HOME={cuda_home} ' if cuda_home else ''
    return (f'{home}FORCE_CUDA=1 MMCV_WITH_OPS=1 {python} -m pip install --no-build-isolation '
            f'--no-binary mmcv --no-cache-dir --force-reinstall --no-deps mmcv=={MMCV_VERSION}')


def toolkit_hint(torch_cuda: Optional[str]) -> str:
    version = torch_cuda or 'X.Y'
    return (f"install the CUDA toolkit matching torch's CUDA {version} (nvcc, headers) "
            f'and put its bin/ on PATH or set CUDA_HOME (e.g. CUDA_HOME=/usr/local/cuda-{version})')


def decide(env: CudaEnv) -> Tuple[str, str]:
    """``(action, reason)``: action is 'keep', 'cpu', 'cuda' or 'refuse'
    (the reason then names what is missing and how to get it)."""
    if env.request == '0':
        want, why = False, 'MMFSOD_CUDA=0: CPU ops only'
    elif env.request == '1':
        want, why = True, 'MMFSOD_CUDA=1 (or FORCE_CUDA=1) asks for CUDA ops'
    elif env.torch_cuda and env.gpu_count > 0:
        want, why = True, f'torch (CUDA {env.torch_cuda}) sees {env.gpu_count} GPU(s)'
    elif env.gpus_listed > 0 and not env.torch_cuda:
        return 'refuse', (
            f'nvidia-smi lists {env.gpus_listed} GPU(s) but torch is a CPU-only build: '
            'install a CUDA build of torch/torchvision (e.g. pip install torch torchvision '
            '--index-url https://download.pytorch.org/whl/cu130), or set MMFSOD_CUDA=0 '
            'to set up for the CPU only')
    elif env.gpus_listed > 0:  # a warning: the set-up follows torch
        want, why = False, (
            f'WARNING: nvidia-smi lists {env.gpus_listed} GPU(s) but torch (CUDA '
            f'{env.torch_cuda}) sees none (a driver older than CUDA {env.torch_cuda}, or '
            'CUDA_VISIBLE_DEVICES); setting up CPU ops, MMFSOD_CUDA=1 builds CUDA ops anyway')
    else:
        want, why = False, 'no GPU visible to torch'

    if not want:
        if env.mmcv_ops:
            return 'keep', f'{why}; mmcv.ops imports'
        return 'cpu', f'{why}; mmcv.ops does not import: install mmcv {MMCV_VERSION}'

    # CUDA ops wanted
    if not env.torch_cuda:
        return 'refuse', (f'{why}, but torch is a CPU-only build: install a CUDA build of '
                          'torch/torchvision first')
    if env.mmcv_ops and env.mmcv_cuda not in (None, NOT_AVAILABLE) \
            and _major(env.mmcv_cuda) == _major(env.torch_cuda):
        return 'keep', f'{why}; mmcv has CUDA {env.mmcv_cuda} ops'
    have = ('mmcv.ops does not import' if not env.mmcv_ops else
            'the installed mmcv has CPU-only ops' if env.mmcv_cuda in (None, NOT_AVAILABLE)
            else f'the installed mmcv was built for CUDA {env.mmcv_cuda}')
    if env.cuda_home is None or env.nvcc_version is None:
        problem = env.toolkit_problem or 'nvcc not found'
        return 'refuse', (f'{why} and {have}, but {problem}: '
                          f'{toolkit_hint(env.torch_cuda)}')
    if _major(env.nvcc_version) != _major(env.torch_cuda):
        return 'refuse', (f'{why} and {have}, but nvcc {env.nvcc_version} '
                          f'({env.cuda_home}/bin/nvcc) does not match torch\'s CUDA '
                          f'{env.torch_cuda}: {toolkit_hint(env.torch_cuda)}')
    if env.missing_headers:
        return 'refuse', (
            f'{why} and {have}, but the CUDA toolkit at {env.cuda_home} lacks '
            f'{", ".join(env.missing_headers)} (torch\'s CUDA headers include them): install '
            f'the CUDA {env.torch_cuda} library headers (e.g. the full toolkit) or torch\'s '
            'pip CUDA packages')
    extra = (f', with {":".join(env.extra_includes)} for the CUDA library headers'
             if env.extra_includes else '')
    return 'cuda', (f'{why} and {have}: building mmcv {MMCV_VERSION} with CUDA '
                    f'{env.nvcc_version} ops from {env.cuda_home}{extra}')


# --------------------------------------------------------------------- probing
def nvcc_release(nvcc: str, run: Optional[Callable] = None) -> Optional[str]:
    """'13.0' from ``nvcc --version`` ('... release 13.0, V13.0.88'), or None."""
    try:
        out = (run or subprocess.run)([nvcc, '--version'], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'release (\d+\.\d+)', out or '')
    return m.group(1) if m else None


def _is_toolkit(home: str) -> bool:
    return (os.access(osp.join(home, 'bin', 'nvcc'), os.X_OK)
            and osp.isfile(osp.join(home, 'include', 'cuda_runtime.h')))


def find_cuda_home(environ=os.environ, which: Optional[Callable] = None,
                   torch_cuda: Optional[str] = None) -> Tuple[Optional[str], Optional[str]]:
    """``(cuda_home, problem)``: the toolkit directory (bin/nvcc and
    include/cuda_runtime.h) that torch's extension build should use.

    CUDA_HOME / CUDA_PATH win when set (an unusable one is a problem, not
    skipped). Otherwise nvcc on PATH: torch would take ``dirname(dirname
    (nvcc))``, wrong for a wrapper script such as /usr/local/bin/nvcc, so
    the link's target and /usr/local/cuda[-X.Y] are tried too; the caller
    exports the one found as CUDA_HOME.
    """
    for key in ('CUDA_HOME', 'CUDA_PATH'):
        home = environ.get(key)
        if home:
            if _is_toolkit(home):
                return home, None
            return None, f'{key}={home} has no bin/nvcc and include/cuda_runtime.h'
    candidates: List[str] = []
    nvcc = (which or shutil.which)('nvcc')
    if nvcc:
        candidates += [osp.dirname(osp.dirname(nvcc)),
                       osp.dirname(osp.dirname(osp.realpath(nvcc)))]
    if torch_cuda:
        candidates.append(f'/usr/local/cuda-{torch_cuda}')
    candidates.append('/usr/local/cuda')
    for home in dict.fromkeys(candidates):
        if _is_toolkit(home):
            return home, None
    return None, ('nvcc not found (not on PATH, no CUDA_HOME, no /usr/local/cuda)' if not nvcc
                  else f'{nvcc} is not in a CUDA toolkit directory with include/cuda_runtime.h')


def pip_cuda_roots() -> List[str]:
    """site-packages dirs that may hold torch's pip CUDA packages (nvidia/)."""
    import site
    import torch
    roots = [osp.dirname(osp.dirname(torch.__file__))] + list(site.getsitepackages())
    return list(dict.fromkeys(roots))


def library_include_dirs(cuda_home: str, torch_cuda: Optional[str],
                         roots: Optional[List[str]] = None
                         ) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """``(extra include dirs, headers found nowhere)`` for the
    :data:`LIBRARY_HEADERS` that ``cuda_home/include`` lacks, looked for in
    ``nvidia/cu<major>/include`` (CUDA 13 wheels) and ``nvidia/*/include``
    (CUDA 12 wheels) under ``roots`` (default :func:`pip_cuda_roots`)."""
    missing = [h for h in LIBRARY_HEADERS
               if not osp.isfile(osp.join(cuda_home, 'include', h))]
    if not missing:
        return (), ()
    dirs: List[str] = []
    for root in (pip_cuda_roots() if roots is None else roots):
        if torch_cuda:
            dirs.append(osp.join(root, 'nvidia', f'cu{_major(torch_cuda)}', 'include'))
        dirs += sorted(glob.glob(osp.join(root, 'nvidia', '*', 'include')))
    extra: List[str] = []
    for header in list(missing):
        found = next((d for d in dirs if osp.isfile(osp.join(d, header))), None)
        if found:
            missing.remove(header)
            extra.append(found)
    return tuple(dict.fromkeys(extra)), tuple(missing)


def gpus_listed(which: Optional[Callable] = None, run: Optional[Callable] = None) -> int:
    """GPUs ``nvidia-smi -L`` lists (0 without nvidia-smi or a driver)."""
    smi = (which or shutil.which)('nvidia-smi')
    if not smi:
        return 0
    try:
        out = (run or subprocess.run)([smi, '-L'], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith('GPU '))


def mmcv_compiled_cuda() -> Tuple[bool, Optional[str]]:
    """(``import mmcv.ops`` works, mmcv's compiling CUDA version or None)."""
    try:
        from mmcv.ops import get_compiling_cuda_version
    except Exception:  # noqa: BLE001 - any import failure means "no ops"
        return False, None
    try:
        return True, str(get_compiling_cuda_version())
    except Exception:  # noqa: BLE001
        return True, None


def probe(environ=os.environ) -> CudaEnv:
    """The :class:`CudaEnv` of this interpreter and machine."""
    import torch
    torch_cuda = torch.version.cuda
    gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    request = environ.get('MMFSOD_CUDA', '')
    if request not in ('', '0', '1'):
        raise ValueError(f'MMFSOD_CUDA must be 0, 1 or unset, got {request!r}')
    if not request and environ.get('FORCE_CUDA') == '1':
        request = '1'
    cuda_home, problem = find_cuda_home(environ, torch_cuda=torch_cuda)
    extra, missing = library_include_dirs(cuda_home, torch_cuda) if cuda_home else ((), ())
    ops, compiled = mmcv_compiled_cuda()
    return CudaEnv(torch_cuda=torch_cuda, gpu_count=gpu_count, gpus_listed=gpus_listed(),
                   cuda_home=cuda_home,
                   nvcc_version=nvcc_release(osp.join(cuda_home, 'bin', 'nvcc'))
                   if cuda_home else None,
                   mmcv_ops=ops, mmcv_cuda=compiled, request=request,
                   toolkit_problem=problem, extra_includes=extra, missing_headers=missing)


def main(environ=os.environ) -> int:
    env = probe(environ)
    action, reason = decide(env)
    if action == 'refuse':
        print(f'[mmcv_cuda] ERROR: {reason}', file=sys.stderr)
        return 1
    print(f'[mmcv_cuda] {action}: {reason}', file=sys.stderr)
    if action == 'cuda':
        print(' '.join(['cuda', env.cuda_home] + ([':'.join(env.extra_includes)]
                                                  if env.extra_includes else [])))
    else:
        print(action)
    return 0


if __name__ == '__main__':
    sys.exit(main())
