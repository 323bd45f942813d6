#!/usr/bin/env bash
# Training on a Slurm cluster:
#   GPUS=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# GPUS (total), GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS as in mmdet.
# As dist_train.sh: a paper config keeps its total batch (batch per GPU =
# total / GPUS, the world size from SLURM_NTASKS); --auto-scale-lr keeps its
# batch per GPU and scales the lr (tools/train.py).
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: GPUS=8 bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python3}
DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "${@:5}"
