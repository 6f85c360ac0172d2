#!/usr/bin/env bash
# The GPU run behind the bundled demo model and docs/ABLATION.md, as sent to a lent H200 with the
# device tool: this repository plus .gpu/ (train split of data/synth128 and the int8-packed LPIPS
# VGG16, scripts/gpu/vgg_int8.py pack). The machine has PyTorch, OpenCV and no internet; no install
# is needed (PYTHONPATH=src; clips decode with OpenCV when PyAV is absent).
# Prepare .gpu/ once (ignored by git; ~45 MB):
#   mkdir -p .gpu/synth128 && cp -r data/synth128/train data/synth128/manifest.json .gpu/synth128/
#   python scripts/gpu/vgg_int8.py pack ~/.cache/synergywarp/lpips_vgg16.safetensors .gpu/vgg16_int8.safetensors
# then, on the GPU machine:
#   MINUTES=7 bash scripts/gpu/train_demo_and_ablation.sh OUT_DIR
set -euo pipefail
out=${1:?usage: train_demo_and_ablation.sh OUT_DIR}
minutes=${MINUTES:-7}
mkdir -p "$out"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 SYNERGYWARP_CACHE=${SYNERGYWARP_CACHE:-/tmp/synergywarp-cache}
python3 - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PY
python3 scripts/gpu/vgg_int8.py unpack .gpu/vgg16_int8.safetensors "$SYNERGYWARP_CACHE/lpips_vgg16.safetensors"
runs=/tmp/synergywarp-runs
rm -rf "$runs"
status=0
timeout -k 5 "${LAUNCH_TIMEOUT:-560}" python3 scripts/train_budget.py --data .gpu/synth128 --out "$runs" --minutes "$minutes" \
    --calibrate-seconds "${CALIBRATE_SECONDS:-45}" --workers "${WORKERS:-3}" ${BATCH:+--batch-size $BATCH} \
    --same-steps demo,explicit,rac_add \
    demo=configs/demo.yaml learned=configs/demo_learned.yaml \
    explicit=configs/ablation/explicit.yaml rac_add=configs/ablation/rac_add.yaml || status=$?
for name in demo learned explicit rac_add; do
    [ -f "$runs/$name/model_ema.safetensors" ] && cp "$runs/$name/model_ema.safetensors" "$out/$name.safetensors"
done
(cd "$runs" && tar czf "$out/logs.tgz" --exclude='checkpoints' --exclude='tensorboard' --exclude='*.safetensors' . ) || true
nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv 2>/dev/null || true
exit $status
