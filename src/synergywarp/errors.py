"""Errors that the CLI reports as one actionable line (no traceback)."""

from __future__ import annotations


class SynergyWarpError(Exception):
    """Base class: a user-facing problem with inputs, configs, checkpoints or the environment."""


class ConfigError(SynergyWarpError, ValueError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class CheckpointError(SynergyWarpError):
    """A checkpoint is missing, unreadable, or of a different architecture."""


class AssetError(SynergyWarpError):
    """An offline asset (pretrained weights shipped in a package) is missing."""


class InputError(SynergyWarpError):
    """An input file is missing, unreadable, or not what it should be (no face, empty video...)."""


class FetchError(SynergyWarpError):
    """A package registry cannot be reached, or served an archive or file other than the pinned one."""


class OutputError(InputError):
    """An output cannot be written: its folder is not writable, it would replace an input or an earlier
    result without ``--overwrite``, or the disk is full. (An output path is an input the user gives,
    hence the base class.)"""

    reason: str | None = None  # a failed write's bare cause ("No space left on device"), when known
