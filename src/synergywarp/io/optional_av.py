"""PyAV when it is installed (the ``video`` extra), else a stand-in that fails with one line on first use.

Training machines that only read clips can go without it (``synergywarp.data`` then decodes with OpenCV);
every other video path needs it.
"""

from __future__ import annotations

from synergywarp.errors import AssetError

try:
    import av
except ImportError:  # pragma: no cover - exercised on machines without the extra

    class _MissingPyAV:
        def __getattr__(self, name: str):
            raise AssetError("video input/output needs PyAV: pip install 'synergywarp[video]' (or av>=11)")

    av = _MissingPyAV()  # type: ignore[assignment]

__all__ = ["av"]
