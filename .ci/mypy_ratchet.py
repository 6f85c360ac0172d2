"""Type-check ratchet: mypy's error count over src/ may only go down, and models/ and inference/ stay at zero.

    python .ci/mypy_ratchet.py            # check (CI)
    python .ci/mypy_ratchet.py --update   # after fixing errors: write the lower count as the new baseline

The configuration is [tool.mypy] in pyproject.toml; the baseline is .ci/mypy_baseline.txt.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy_baseline.txt"
ZERO_ERROR_PACKAGES = ("src/synergywarp/models/", "src/synergywarp/inference/")
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error:")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="write the current count as the baseline")
    args = parser.parse_args(argv)
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True,
                         text=True)
    if run.returncode not in (0, 1) or run.stderr.strip():
        print(run.stdout + run.stderr, file=sys.stderr)
        print("mypy ratchet: mypy itself failed", file=sys.stderr)
        return 2
    errors = [line for line in run.stdout.splitlines() if ERROR.match(line)]
    strict = [line for line in errors if line.startswith(ZERO_ERROR_PACKAGES)]
    baseline = int(BASELINE.read_text().split()[0])
    if args.update:
        BASELINE.write_text(f"{len(errors)}\n")
        print(f"mypy ratchet: baseline {baseline} -> {len(errors)}")
        return 0
    status = 0
    if strict:
        print("\n".join(strict))
        print(f"mypy ratchet: {len(strict)} error(s) in {' or '.join(ZERO_ERROR_PACKAGES)}, which must have none")
        status = 1
    if len(errors) > baseline:
        print("\n".join(errors))
        print(f"mypy ratchet: {len(errors)} errors, more than the baseline {baseline} ({BASELINE.name}): "
              "fix the new ones (annotations; `# type: ignore[code]` only with a reason)")
        status = 1
    elif len(errors) < baseline:
        print(f"mypy ratchet: {len(errors)} errors, below the baseline {baseline}: "
              "run `python .ci/mypy_ratchet.py --update` and commit the lower baseline")
    else:
        print(f"mypy ratchet: {len(errors)} errors (baseline {baseline})")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
