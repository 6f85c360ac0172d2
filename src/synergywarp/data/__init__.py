"""synergywarp.data (work in progress)."""
