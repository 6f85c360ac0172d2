"""synergywarp.train (work in progress)."""
