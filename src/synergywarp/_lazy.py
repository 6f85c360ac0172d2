"""Lazy package attributes (PEP 562): ``synergywarp.inference.Animator`` and friends import their module
on first use, so importing a package (for instance to build the CLI parser) loads neither torch nor numpy."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports[name]`` is ``"module"`` (the attribute of the
    same name) or ``"module:attribute"``; the value is imported on first access and cached."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
