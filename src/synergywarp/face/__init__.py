"""synergywarp.face (work in progress)."""
