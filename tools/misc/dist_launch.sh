#!/usr/bin/env bash
# Shared by tools/dist_train.sh and tools/dist_test.sh: run SCRIPT in NPROC
# processes per node through torchrun, with --launcher pytorch.
#   bash tools/misc/dist_launch.sh SCRIPT NPROC [script args...]
# NNODES, NODE_RANK, MASTER_ADDR, PORT (multi-node) as in mmdet; PYTHON picks
# the interpreter (default: python3 of the active environment).
set -euo pipefail
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# On CPU, share the cores between the processes of this node (torchrun's own
# default is one thread each); an OMP_NUM_THREADS you set is kept.
CORES=$(nproc 2>/dev/null || echo 1)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( CORES / NPROC > 0 ? CORES / NPROC : 1 ))}

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}" --launcher pytorch
