"""The in-memory snapshot of a run: what was saved, and the port its codecs plug into.

The document schema, JSON/TOML codecs and atomic save live in `flow_tui.snapshot`, which
registers itself here; core knows no file format and touches no file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flow_tui.core.model import TaskResult, TaskStatus

FORMAT_NAME = "flow-tui-snapshot"
FORMAT_VERSION = 2


class SnapshotCodec(Protocol):
    def to_dict(self, snapshot: Snapshot) -> dict[str, Any]: ...
    def from_dict(self, document: Mapping[str, Any], source: str = ...) -> Snapshot: ...
    def to_json(self, snapshot: Snapshot) -> str: ...
    def from_json(self, text: str | bytes, source: str = ...) -> Snapshot: ...
    def to_toml(self, snapshot: Snapshot) -> str: ...
    def from_toml(self, text: str | bytes, source: str = ...) -> Snapshot: ...
    def save(self, snapshot: Snapshot, path: str | Path) -> Path: ...
    def load(self, path: str | Path) -> Snapshot: ...


_codec: SnapshotCodec | None = None


def register_codec(codec: SnapshotCodec) -> None:
    global _codec
    _codec = codec


def _get_codec() -> SnapshotCodec:
    if _codec is None:  # pragma: no cover - flow_tui/__init__ always registers it
        raise RuntimeError("flow_tui.snapshot is not loaded: import flow_tui first")
    return _codec


@dataclass(slots=True, weakref_slot=True)
class Snapshot:
    """Task results of a run at one moment, plus what is needed to resume from them.

    `results` maps task name to TaskResult (finished tasks only). `interrupted` names the
    tasks whose body had started and not finished: they were running when the snapshot was
    taken, or were cut off by an interrupting pause or a cancel. `versions` records each
    task's `version` so a changed task can be detected on resume.
    """

    results: dict[str, TaskResult] = field(default_factory=dict)
    workflow: str | None = None
    fingerprint: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    interrupted: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # every task of the graph, declared order
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "pending"  # pending | running | paused | finished | failed | cancelled
    context: Any = None  # only what a Workflow's save_context hook returned
    checkpoint_id: str | None = None  # names the journal that extends this checkpoint file
    control: str | None = None  # the control socket of the run that saved it (`attach`)
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in TaskStatus}
        for result in self.results.values():
            out[result.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return _get_codec().to_dict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Snapshot:
        return _get_codec().from_dict(document)

    def to_json(self) -> str:
        return _get_codec().to_json(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> Snapshot:
        return _get_codec().from_json(text)

    def to_toml(self) -> str:
        return _get_codec().to_toml(self)

    @classmethod
    def from_toml(cls, text: str | bytes) -> Snapshot:
        return _get_codec().from_toml(text)

    def save(self, path: str | Path) -> Path:
        """Write atomically; `.json` or `.toml` picks the codec. Returns the path written."""
        return _get_codec().save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Snapshot:
        """Read a snapshot file, folding in a checkpoint journal beside it if there is one."""
        return _get_codec().load(path)
