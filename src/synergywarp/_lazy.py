"""Lazy package attributes (PEP 562): ``synergywarp.inference.Animator`` and friends import their module
on first use, so importing a package (for instance to build the CLI parser) loads neither torch nor numpy."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
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


def lazy_exports(package: str, modules: Mapping[str, Iterable[str]]) -> tuple[Callable[[str], Any], list[str]]:
    """``__getattr__`` and ``__all__`` of a lazy package, as ``__getattr__, __all__ = lazy_exports(__name__, ...)``.

    ``modules`` maps a module (a leading dot: inside ``package``) to the names it exports, each written as
    in the package's ``TYPE_CHECKING`` import of it: ``"Animator"``, or ``"METRIC_DEFINITIONS as
    FACE_METRIC_DEFINITIONS"`` for another name."""
    exports: dict[str, str] = {}
    for module, names in modules.items():
        absolute = f"{package}{module}" if module.startswith(".") else module
        for name in names:
            attribute, _, alias = name.partition(" as ")
            exports[alias or attribute] = f"{absolute}:{attribute}"
    return lazy_attributes(package, exports), sorted(exports)
