"""Format versions of checkpoint files, and serialization errors that point at the value."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from ckhelpers import WORKFLOWS, resume_headless, statuses, step, workflow

from flow_tui import Snapshot, SnapshotError
from flow_tui.core.snapshot import FORMAT_VERSION
from flow_tui.session import Session, SessionOptions
from flow_tui.snapshot.schema import SnapshotDataWarning

GATED = WORKFLOWS / "gated.py"

V1_JSON = {
    "format": "flow-tui-snapshot",
    "version": 1,
    "workflow": "gated",
    "state": "failed",
    "results": {
        "t000": {"status": "success", "metrics": {"duration_ms": 1.5, "attempts": 1}},
        "t001": {"status": "failure", "error": "boom"},
    },
}
V1_TOML = """\
format = "flow-tui-snapshot"
version = 1
workflow = "gated"
state = "failed"

[results.t000]
status = "success"

[results.t000.metrics]
duration_ms = 1.5
attempts = 1

[results.t001]
status = "failure"
error = "boom"
"""


def _write_v1(path: Path) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(V1_JSON))
    else:
        path.write_text(V1_TOML)
    return path


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_version_1_checkpoint_is_upgraded_on_load_and_resumed(
    suffix: str, tmp_path: Path
) -> None:
    ck = _write_v1(tmp_path / f"ck{suffix}")
    loaded = Snapshot.load(ck)
    assert loaded.status == "failed"  # "state" in version 1
    assert loaded.tasks == ["t000", "t001"] and loaded.interrupted == []
    assert statuses(loaded) == {"t000": "success", "t001": "failure"}
    done = resume_headless(
        GATED, ck, cwd=tmp_path, env={"CK_TASKS": "3", "CK_CALLS": str(tmp_path / "calls")}
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().split() == ["t001", "t002"]  # t000 kept
    assert f"version = {FORMAT_VERSION}" in ck.read_text() or f'"version": {FORMAT_VERSION}' in (
        ck.read_text()
    )


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_newer_format_is_refused_with_a_clear_line(suffix: str, tmp_path: Path) -> None:
    ck = tmp_path / f"ck{suffix}"
    Snapshot(workflow="gated").save(ck)
    text = ck.read_text().replace(f"version = {FORMAT_VERSION}", "version = 99")
    text = text.replace(f'"version": {FORMAT_VERSION}', '"version": 99')
    ck.write_text(text)
    with pytest.raises(SnapshotError, match="newer flow-tui"):
        Snapshot.load(ck)
    done = resume_headless(GATED, ck, cwd=tmp_path, env={"CK_CALLS": str(tmp_path / "calls")})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "version 99" in done.stderr and "upgrade flow-tui" in done.stderr
    assert str(ck) in done.stderr
    assert ck.read_text() == text and not (tmp_path / "calls").exists()


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


@pytest.mark.parametrize("suffix", [".json", ".toml"])
async def test_unserializable_data_names_the_task_and_the_path_and_saves_a_repr(
    suffix: str, tmp_path: Path
) -> None:
    ck = tmp_path / f"ck{suffix}"

    async def odd(ctx: Any) -> object:
        return {"rows": [1, {"when": Opaque()}], "ok": True}

    session = Session.open(workflow([step("report", odd)]), SessionOptions(checkpoint=ck))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await session.run()
        mid = Snapshot.load(ck)  # from the journal
        await session.close()
    messages = [str(w.message) for w in caught if issubclass(w.category, SnapshotDataWarning)]
    assert messages, "no warning about the value"
    assert "'report'" in messages[0] and "['rows'][1]['when']" in messages[0]
    assert "Opaque" in messages[0]
    final = Snapshot.load(ck)
    for loaded in (mid, final):
        result = loaded.results["report"]
        assert result.data_is_repr is True
        assert "<Opaque>" in result.data


async def test_data_that_contains_itself_is_named_and_saved_as_a_repr(tmp_path: Path) -> None:
    ck = tmp_path / "ck.json"

    async def loop(ctx: Any) -> object:
        rows: list[Any] = [1]
        rows.append({"back": rows})
        return {"rows": rows}

    session = Session.open(workflow([step("cyclic", loop)]), SessionOptions(checkpoint=ck))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await session.run()
        await session.close()
    messages = [str(w.message) for w in caught if issubclass(w.category, SnapshotDataWarning)]
    assert messages and "['rows'][1]['back']" in messages[0] and "contains itself" in messages[0]
    result = Snapshot.load(ck).results["cyclic"]
    assert result.data_is_repr is True and "[...]" in result.data
