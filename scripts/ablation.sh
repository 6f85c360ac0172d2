#!/usr/bin/env bash
# Rerun the ablation of docs/ABLATION.md: (a) explicit only, (b) + RAC with plain addition,
# (c) + RAC + confidence-guided fusion (= the demo model's recipe), and the motion: learned
# counterpart of the demo model, then evaluate every checkpoint with `synergywarp eval`.
#
#   bash scripts/ablation.sh train DATA RUNS MINUTES   # all four side by side within MINUTES each
#   bash scripts/ablation.sh eval DATA RUNS OUT        # held-out evaluation of RUNS/{demo,...}.safetensors
#
# DATA is the synthetic corpus (scripts/build_synth_corpus.py ... --test-identities 2). `train` uses
# scripts/train_budget.py (equal step counts for the three ablation runs, equal wall clock for the
# learned run); on a lent GPU the same run is scripts/gpu/train_demo_and_ablation.sh.
set -euo pipefail
mode=${1:?usage: ablation.sh train|eval ...}
data=${2:?DATA}
runs=${3:?RUNS}
sw=${SYNERGYWARP:-synergywarp}
frames=${MAX_FRAMES:-16}
case $mode in
  train)
    minutes=${4:?MINUTES}
    python scripts/train_budget.py --data "$data" --out "$runs" --minutes "$minutes" \
        --same-steps demo,explicit,rac_add \
        demo=configs/ablation/rac_cgf.yaml learned=configs/demo_learned.yaml \
        explicit=configs/ablation/explicit.yaml rac_add=configs/ablation/rac_add.yaml
    for name in demo learned explicit rac_add; do cp "$runs/$name/model_ema.safetensors" "$runs/$name.safetensors"; done
    ;;
  eval)
    out=${4:?OUT}
    common=(--data "$data" --split test --max-frames "$frames" --cache "$out/cache" --no-progress)
    "$sw" eval --checkpoint "$runs/demo.safetensors" --refs 0,1,2,4 --out "$out/rac_cgf" "${common[@]}"
    "$sw" eval --checkpoint "$runs/rac_add.safetensors" --refs 0,1,2,4 --methods explicit,full \
        --out "$out/rac_add" "${common[@]}"
    "$sw" eval --checkpoint "$runs/explicit.safetensors" --methods explicit --out "$out/explicit" "${common[@]}"
    "$sw" eval --checkpoint "$runs/learned.safetensors" --refs 2 --methods explicit,full \
        --out "$out/learned" "${common[@]}"
    ;;
  *) echo "usage: ablation.sh train DATA RUNS MINUTES | eval DATA RUNS OUT" >&2; exit 2 ;;
esac
