#!/usr/bin/env bash
# Multi-process testing through torchrun, on GPUs or on the CPU (gloo).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as in mmdet.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: bash $0 CONFIG CHECKPOINT NPROC [test.py args...]" >&2; exit 2
fi
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/misc/dist_launch.sh" "$DIR/test.py" "$3" "$1" "$2" "${@:4}"
