"""What "a snapshot survived a round trip" means, shared by the codec and property tests."""

from __future__ import annotations

from typing import Any

from flow_tui import Snapshot
from flow_tui.snapshot import FORMAT_NAME, FORMAT_VERSION


def strict(value: Any) -> Any:
    """`value` with every scalar tagged by its type, so 1 and 1.0 and True differ; dict
    key order is not compared (JSON objects are unordered; TOML writes tables last)."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return (type(value).__name__, value)


def assert_same(a: Snapshot, b: Snapshot) -> None:
    """`b` (a decoded copy) holds everything `a` held, with the same value types."""
    assert b.results == a.results
    assert b.versions == a.versions
    assert b.interrupted == a.interrupted
    assert b.tasks == a.tasks
    assert b.workflow == a.workflow
    assert b.fingerprint == a.fingerprint
    assert b.status == a.status
    assert b.created_at == a.created_at
    assert b.context == a.context
    assert b.format == FORMAT_NAME and b.format_version == FORMAT_VERSION
    # Integers stay integers (a float that compares equal would not do).
    for name, result in a.results.items():
        assert strict(b.results[name].data) == strict(result.data)
    assert strict(b.context) == strict(a.context)
