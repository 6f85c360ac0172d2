#!/usr/bin/env bash
# Reproduce the bundled demo model v2 on a CPU (docs/MODEL_CARD.md): fetch the real footage, prepare it,
# build the synthetic corpus, start from the first demo model and fine-tune with configs/demo_v2.yaml;
# then its live twin (the same network at 64², configs/demo_live.yaml) from it, slimmed (its dense motion
# hourglass narrowed to 24 channels, scripts/slim_live_model.py) and fine-tuned again (configs/demo_live_slim.yaml).
#
#   bash scripts/train_demo_v2.sh            # everything into data/ and runs/ (about 4 h of training on 2 cores)
#   STEP=train bash scripts/train_demo_v2.sh # only the demo model's training (data already there)
#   STEP=live bash scripts/train_demo_v2.sh  # only the live model (from runs/demo_v2.safetensors, ≈ 25 + 50 min)
#
# Then `synergywarp eval` it as in scripts/eval_real.sh. Every step is resumable: rerunning skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
sw=${SYNERGYWARP:-.venv/bin/synergywarp}
py=${PYTHON:-.venv/bin/python}
step=${STEP:-all}

if [ "$step" = all ] || [ "$step" = data ]; then
  "$sw" fetch-data real data/real_raw
  "$sw" prepare data/real_raw/videos --identity-map data/real_raw/identities.csv --stills data/real_raw/stills \
      --test-identities clm_author,bob_h264 --segment-seconds 8 --size 256 --out data/real
  "$py" scripts/build_synth_corpus.py --out data/synth256 --clips 12 --frames 48 --size 256 --test-identities 2
fi
if [ "$step" = all ] || [ "$step" = train ]; then
  mkdir -p runs
  # the starting point: the first demo model (small_tracked_mesh), as committed before v2 replaced it
  [ -f runs/demo_v1.safetensors ] || git show 4dd471f:src/synergywarp/assets/models/demo.safetensors > runs/demo_v1.safetensors
  resume=()
  [ -d runs/demo_v2/checkpoints ] && resume=(--resume)
  "$sw" train --config configs/demo_v2.yaml --data data/real --out runs/demo_v2 "${resume[@]}"
  # stage B: the per-pixel reference fusion learns from hidden-content items (starts from stage A's EMA)
  resume=()
  [ -d runs/demo_v2_refs/checkpoints ] && resume=(--resume)
  "$sw" train --config configs/demo_v2_refs.yaml --data data/real --out runs/demo_v2_refs "${resume[@]}"
  cp runs/demo_v2_refs/model_ema.safetensors runs/demo_v2.safetensors
  # bundled as demo.safetensors: the same weights with references moved by the whole-head warp (not retrained)
  "$py" scripts/set_model_config.py runs/demo_v2.safetensors runs/demo_v2_headrefs.safetensors cgf.reference_warp=head
fi
if [ "$step" = all ] || [ "$step" = live ]; then
  resume=()
  [ -d runs/demo_live/checkpoints ] && resume=(--resume)
  "$sw" train --config configs/demo_live.yaml --data data/real --out runs/demo_live "${resume[@]}"
  cp runs/demo_live/model_ema.safetensors runs/demo_live.safetensors
  [ -f runs/demo_live_slim_init.safetensors ] || "$py" scripts/slim_live_model.py runs/demo_live.safetensors \
      runs/demo_live_slim_init.safetensors --width 24 --calibrate data/real/train
  resume=()
  [ -d runs/demo_live_slim/checkpoints ] && resume=(--resume)
  "$sw" train --config configs/demo_live_slim.yaml --data data/real --out runs/demo_live_slim "${resume[@]}"
  cp runs/demo_live_slim/model_ema.safetensors runs/demo_live_slim.safetensors
  # bundled as demo_live.safetensors: the same weights with references moved by the whole-head warp (not retrained)
  "$py" scripts/set_model_config.py runs/demo_live_slim.safetensors runs/demo_live_slim_headrefs.safetensors \
      cgf.reference_warp=head
fi
