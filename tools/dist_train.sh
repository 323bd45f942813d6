#!/usr/bin/env bash
# Multi-process training through torchrun, on GPUs or on the CPU (gloo).
#   bash tools/dist_train.sh CONFIG NPROC [train.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as in mmdet.
# A paper config keeps its total batch (batch per GPU = total / NPROC);
# --auto-scale-lr keeps its batch per GPU and scales the lr (tools/train.py).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: bash $0 CONFIG NPROC [train.py args...]" >&2; exit 2
fi
DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$DIR/misc/dist_launch.sh" "$DIR/train.py" "$2" "$1" "${@:3}"
