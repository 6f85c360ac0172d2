"""Fixture: the fake registry of fake_registry.py, running for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_registry import FakeRegistry, publish_all, serve


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    """A running fake registry with the three fake packages published."""
    registry = FakeRegistry()
    server = serve(registry)
    publish_all(registry)
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
