#!/usr/bin/env bash
# lp256 latency and throughput on a lent GPU (issue 17), as one device-tool run from the repository root:
#   bash scripts/gpu/latency_lp256.sh            # JSON into $OUT (the device tool's folder) or benchmarks/results
# The machine has PyTorch; nothing is installed (PYTHONPATH=src). MAX_SECONDS bounds the Python run (the JSON
# is written even when it stops early); keep the device call's timeout_s above it (default 480 s → 540 s).
set -euo pipefail
out_dir=${OUT:-benchmarks/results}
mkdir -p "$out_dir"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw --format=csv || true
timeout -k 10 "$(( ${MAX_SECONDS:-480} + 30 ))" python3 scripts/gpu/latency_lp256.py --device cuda \
    --max-seconds "${MAX_SECONDS:-480}" --out "$out_dir/latency_lp256_cuda.json" "$@"
