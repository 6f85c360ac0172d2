"""synergywarp.io (work in progress)."""
