"""synergywarp.metrics (work in progress)."""
