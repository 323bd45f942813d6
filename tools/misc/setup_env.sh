#!/usr/bin/env bash
# Idempotent environment set-up for mmfsod.
#
#   bash tools/misc/setup_env.sh            # creates/updates ./.venv
#   VENV=/path/to/env bash tools/misc/setup_env.sh
#   MMFSOD_PYTHON=/usr/bin/python3 bash tools/misc/setup_env.sh  # no venv
#
# Steps (each skipped when already satisfied):
#   1. a virtual environment (unless MMFSOD_PYTHON names an interpreter);
#   2. torch + torchvision: an already-importing pair is kept, otherwise
#      torch===2.13.0 torchvision==0.28.0 (three '=' skips local '+cpu' builds,
#      which have no matching torchvision);
#   3. build helpers (setuptools>=77,<81 keeps pkg_resources; ninja; wheel);
#   4. mmcv 2.1.0 with compiled ops; tools/misc/mmcv_cuda.py decides:
#      - CPU machine: installed with --no-build-isolation only when
#        `import mmcv.ops` fails (pip's wheel cache or a PIP_FIND_LINKS wheel
#        makes later runs fast);
#      - torch is a CUDA build and sees a GPU, or MMFSOD_CUDA=1 (FORCE_CUDA=1)
#        on a GPU-less build node: an mmcv without CUDA ops is never kept;
#        mmcv is built from source with FORCE_CUDA=1, --no-binary mmcv
#        --no-cache-dir (no cached or found CPU wheel), the CUDA_HOME found
#        and, on CPATH, torch's pip CUDA headers the toolkit lacks;
#        no usable nvcc (or one whose major version is not torch's CUDA):
#        the set-up stops and says what to install. MMFSOD_CUDA=0: CPU ops only;
#   5. mmengine, mmdet, mmpretrain, pycocotools (requirements.txt), test
#      requirements, and mmfsod itself in editable mode;
#   6. an import check that prints versions and fails loudly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
log() { printf '[setup_env] %s\n' "$*" >&2; }
die() { printf '[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${MMFSOD_PYTHON:-}" ]]; then
  PY=$MMFSOD_PYTHON
  log "using interpreter MMFSOD_PYTHON=$PY (no virtual environment)"
else
  VENV=${VENV:-.venv}
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment $VENV"
    "${PYTHON:-python3}" -m venv "$VENV" || die "could not create $VENV with ${PYTHON:-python3}"
  fi
  PY=$VENV/bin/python
fi
"$PY" -c 'import sys; assert sys.version_info >= (3, 8)' || die "$PY is not Python >= 3.8"
PIP=("$PY" -m pip)
# pip's own cache must stay on: it keeps the mmcv wheel built from source.
"${PIP[@]}" --version >/dev/null || die "pip is missing in $PY"

# Nothing to do when this interpreter was set up from these exact files.
STAMP_FILE=.mmfsod-setup.stamp
STAMP="$("$PY" -c 'import sys; print(sys.executable)') $ROOT $(cat requirements.txt \
  requirements-tests.txt setup.cfg tools/misc/setup_env.sh tools/misc/mmcv_cuda.py \
  | sha256sum | cut -d' ' -f1)"
# mmcv_action: keep | cpu | cuda <CUDA_HOME> [<include dirs>] (tools/misc/
# mmcv_cuda.py; empty when it refuses, having said why on stderr)
mmcv_action() { "$PY" tools/misc/mmcv_cuda.py | tail -n 1; }
# the shortcut also needs the installed mmcv to fit this machine (CUDA ops
# where torch sees a GPU or MMFSOD_CUDA=1), which check_env.py alone does not
# see on a GPU-less build node
if [[ -f $STAMP_FILE && "$(cat "$STAMP_FILE")" == "$STAMP" ]] \
    && [[ "$(mmcv_action 2>/dev/null)" == keep ]] \
    && "$PY" tools/misc/check_env.py; then
  log "environment is up to date ($PY)"
  exit 0
fi
rm -f "$STAMP_FILE"

# 2. torch / torchvision ------------------------------------------------------
if "$PY" -c 'import torch, torchvision' 2>/dev/null; then
  log "keeping torch $("$PY" -c 'import torch; print(torch.__version__)') /" \
      "torchvision $("$PY" -c 'import torchvision; print(torchvision.__version__)')"
else
  log "installing torch===2.13.0 torchvision==0.28.0 (several GB on first run)"
  "${PIP[@]}" install "torch===${TORCH_VERSION:-2.13.0}" "torchvision==${TORCHVISION_VERSION:-0.28.0}" \
    || die "torch/torchvision install failed"
  "$PY" -c 'import torch, torchvision' || die "torch/torchvision installed but do not import"
fi

# 3. build helpers ------------------------------------------------------------
"${PIP[@]}" install -q "setuptools>=77,<81" ninja wheel packaging || die "build helpers failed"

# 4. mmengine, then mmcv with ops ---------------------------------------------
"${PIP[@]}" install -q "mmengine==0.10.7" || die "mmengine install failed"
mmcv_ops_ok() { "$PY" -c 'import mmcv.ops' 2>/dev/null; }
MMCV_ACTION=$(mmcv_action) || true
[[ -n $MMCV_ACTION ]] || die "mmcv's CUDA ops are needed here but cannot be built (see above)"
if [[ $MMCV_ACTION == keep ]]; then
  log "keeping mmcv $("$PY" -c 'import mmcv; print(mmcv.__version__)')"
elif [[ $MMCV_ACTION == cuda\ * ]]; then
  read -r _ CUDA_HOME CUDA_LIB_INCLUDES <<< "$MMCV_ACTION"
  export CUDA_HOME MMCV_WITH_OPS=1 FORCE_CUDA=1
  # CUDA library headers (cusparse.h, ...) from torch's pip packages when the
  # toolkit has only nvcc and the runtime
  [[ -z $CUDA_LIB_INCLUDES ]] || export CPATH="$CUDA_LIB_INCLUDES${CPATH:+:$CPATH}"
  export MAX_JOBS=${MAX_JOBS:-$(nproc 2>/dev/null || echo 2)}
  log "building mmcv==2.1.0 with CUDA ops from source (CUDA_HOME=$CUDA_HOME," \
      "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-the GPUs seen, else all}; can take an hour)"
  # --no-binary / --no-cache-dir: never a CPU-only wheel from pip's cache or
  # PIP_FIND_LINKS
  "${PIP[@]}" install --no-build-isolation --no-binary mmcv --no-cache-dir --force-reinstall \
    --no-deps "mmcv==2.1.0" || die "mmcv 2.1.0 CUDA build failed"
  [[ "$(mmcv_action)" == keep ]] || die "mmcv 2.1.0 was built but has no usable CUDA ops"
else
  export MMCV_WITH_OPS=1 FORCE_CUDA=0
  export MAX_JOBS=${MAX_JOBS:-$(nproc 2>/dev/null || echo 2)}
  log "installing mmcv==2.1.0 with ops (FORCE_CUDA=$FORCE_CUDA; a source build takes ~20 min on 2 cores)"
  "${PIP[@]}" install --no-build-isolation "mmcv==2.1.0" || die "mmcv 2.1.0 install failed"
  if ! mmcv_ops_ok; then
    # A cached or found wheel that does not match this torch: build afresh.
    log "mmcv.ops does not import; rebuilding mmcv from source without cached wheels"
    "${PIP[@]}" install --no-build-isolation --no-binary mmcv --no-cache-dir --force-reinstall \
      --no-deps "mmcv==2.1.0" || die "mmcv 2.1.0 source build failed"
  fi
  mmcv_ops_ok || die "mmcv.ops still does not import: $("$PY" -c 'import mmcv.ops' 2>&1 | tail -1)"
fi

# 5. the rest -----------------------------------------------------------------
"${PIP[@]}" install -q -r requirements.txt -r requirements-tests.txt || die "requirements install failed"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e . || die "pip install -e . failed"
# the optional deploy extra (ONNX export, ONNX Runtime / OpenVINO backends), so that CI runs its tests
"${PIP[@]}" install -q --no-build-isolation -e ".[deploy]" || log "WARNING: pip install -e '.[deploy]' failed: the ONNX backend tests will skip"

# 6. verify ---------------------------------------------------------------------
"$PY" tools/misc/check_env.py || die "environment check failed (see above)"
echo "$STAMP" > "$STAMP_FILE"
log "done: use $PY (e.g. source ${VENV:-<env>}/bin/activate)"
