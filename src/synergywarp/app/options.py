"""Option values from the page or the command line → a validated :class:`AnimateOptions`
(its own checks and one-line messages)."""

from __future__ import annotations

from synergywarp.errors import ConfigError
from synergywarp.inference import AnimateOptions

OUTPUT_SIZES = (256, 512)  # the page's choices besides the default


def parse_number(name: str, text: str | float | None, default: float) -> float:
    """A form value as a float (ConfigError naming ``name`` when it is not a number)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return float(default)
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None


def parse_output_size(text: str | int | None) -> int | None:
    """``default``/empty → None (the pipeline's default size); a whole number of pixels → that side
    (its range is checked by :meth:`AnimateOptions.validate`)."""
    if text is None or str(text).strip().lower() in ("", "default", "native", "none"):
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        raise ConfigError(f"output size must be a whole number of pixels, got {text!r}") from None


def make_options(**values) -> AnimateOptions:
    """``AnimateOptions(**values)``, validated."""
    return AnimateOptions(**values).validate()
