"""synergywarp.inference (work in progress)."""
