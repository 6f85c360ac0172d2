"""``python -m synergywarp ...`` (used by ``torchrun -m synergywarp train ...``)."""

from synergywarp.cli import main

raise SystemExit(main())
