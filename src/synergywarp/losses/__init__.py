"""synergywarp.losses (work in progress)."""
