#!/usr/bin/env bash
# The real-face benchmark of docs/results/real/: both protocols on the real test split (data/real, made by
# scripts/train_demo_v2.sh's data step), every baseline, mouth/eye metrics, a figure of the worst frames.
#
#   bash scripts/eval_real.sh CHECKPOINT NAME     # → docs/results/real/NAME/{self,hidden}/
#   FRAMES=16 REFS=0,1,2 bash scripts/eval_real.sh runs/demo_v2/model_ema.safetensors demo_v2
#
# The extraction cache (eval/real_cache) is shared between runs, so baselines are computed once.
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=${1:?usage: eval_real.sh CHECKPOINT NAME}
name=${2:?usage: eval_real.sh CHECKPOINT NAME}
sw=${SYNERGYWARP:-.venv/bin/synergywarp}
frames=${FRAMES:-16}
refs=${REFS:-0,1,2}
data=${DATA:-data/real}
out=docs/results/real/$name
common=(--checkpoint "$checkpoint" --data "$data" --split test --refs "$refs" --max-frames "$frames"
        --methods static,geometric-mesh,geometric,explicit,rac,full --cache eval/real_cache --figure 4 --no-progress
        --overwrite)
"$sw" eval --protocol self --out "$out/self" "${common[@]}"
"$sw" eval --protocol hidden --out "$out/hidden" "${common[@]}"
