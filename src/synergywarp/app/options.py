"""Option values from the page or the command line → a validated :class:`AnimateOptions`.

``output_size`` is passed through only when this version's ``AnimateOptions`` has that field, so the
control starts working as soon as the pipeline supports it.
"""

from __future__ import annotations

import dataclasses

from synergywarp.errors import ConfigError
from synergywarp.inference import AnimateOptions

OUTPUT_SIZES = (256, 512)


def output_size_supported() -> bool:
    """True when ``AnimateOptions`` has an ``output_size`` field."""
    return any(f.name == "output_size" for f in dataclasses.fields(AnimateOptions))


def parse_number(name: str, text: str | float | None, default: float) -> float:
    """A form value as a float (ConfigError naming ``name`` when it is not a number)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return float(default)
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None


def parse_output_size(text: str | int | None) -> int | None:
    """``native``/empty → None (the model's size); ``256``/``512`` → that size (ConfigError otherwise)."""
    if text is None or str(text).strip().lower() in ("", "native", "none"):
        return None
    if str(text).strip() not in {str(s) for s in OUTPUT_SIZES}:
        raise ConfigError(f"output size must be native or one of {', '.join(map(str, OUTPUT_SIZES))}, got {text!r}")
    return int(text)


def make_options(output_size: int | None = None, **values) -> AnimateOptions:
    """``AnimateOptions(**values)`` validated, with ``output_size`` when supported (ConfigError when a
    size is asked for and this version cannot resize)."""
    if output_size is not None:
        if not output_size_supported():
            raise ConfigError("this version of synergywarp has no output-size option; leave the size at native")
        values["output_size"] = output_size
    return AnimateOptions(**values).validate()
