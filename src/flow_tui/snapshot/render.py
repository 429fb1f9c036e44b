"""Checkpoint files rendered from result fragments encoded once, when each task ends.

A checkpoint is rewritten whole at each compaction and at close, and nearly all of it is
results that have not changed since they were encoded for the journal. The renderer keeps
each result's encoded form, keyed by the TaskResult object (a result does not change once
its task has ended), so a rewrite joins strings instead of encoding every result again.
The document means exactly what `codec.encode` writes: both decode to the same snapshot.
In TOML, a plain success is one inline table under `[results]`; any other result keeps
the `[results."name"]` tables the codec writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import tomli_w

from flow_tui.core.model import TaskResult
from flow_tui.core.snapshot import Snapshot
from flow_tui.snapshot import schema
from flow_tui.snapshot.codec import encode, pack_toml_value
from flow_tui.snapshot.journal import encode_end
from flow_tui.snapshot.plain import (
    PLAIN_JSON,
    PLAIN_TOML,
    Fields,
    json_name,
    plain_fields,
)

__all__ = ["CheckpointRenderer", "toml_key"]

_FIRST_KEYS = ("format", "version", "created_at", "status", "workflow", "fingerprint")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NAMES = json.JSONEncoder(ensure_ascii=False, separators=("\x00", ": "))
_TASK_LINES = json.JSONEncoder(ensure_ascii=False, separators=(",\n    ", ": "))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _toml_strings(json_text: str) -> str:
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json_text.replace("\x7f", "\\u007f")


def _names_json(names: Any) -> list[str]:
    """`json.dumps(n, ensure_ascii=False)` of each name, encoded in one call: NUL, which
    JSON always escapes inside a string, separates them."""
    return _NAMES.encode(list(names))[1:-1].split("\x00")


def toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_strings(_json(name))


class CheckpointRenderer:
    """Encodes results once (`end_record`), and whole checkpoint documents from them."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        # name -> (the result it encodes, its JSON, its plain fields or None)
        self._cache: dict[str, tuple[TaskResult, str, Fields | None]] = {}
        self._toml_tables: dict[str, tuple[TaskResult, str]] = {}
        self._tasks: tuple[list[str], str] | None = None
        self._names: dict[str, str] = {}
        self._keys: dict[str, str] = {}

    def name_json(self, name: str) -> str:
        """`json.dumps(name, ensure_ascii=False)`, remembered."""
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = json_name(name)
        return encoded

    def _toml_key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = toml_key(name)
        return key

    def _entry(self, name: str, result: TaskResult) -> tuple[TaskResult, str, Fields | None]:
        entry = self._cache.get(name)
        if entry is None or entry[0] is not result:
            fields = plain_fields(result)
            if fields is not None:
                text = PLAIN_JSON % fields
            else:
                text = _json(schema.result_to_dict(name, result))
            entry = self._cache[name] = (result, text, fields)
        return entry

    def end_record(self, name: str, result: TaskResult) -> bytes:
        """The journal record of a task's end (its result encoded once, kept for files)."""
        return encode_end(self.name_json(name), self._entry(name, result)[1])

    def render(self, snapshot: Snapshot) -> bytes:
        try:
            if self.suffix == ".json":
                return self._render_json(snapshot).encode("utf-8")
            return self._render_toml(snapshot).encode("utf-8")
        except UnicodeEncodeError:
            # Text that UTF-8 cannot hold: the codec says so precisely (or escapes it).
            return encode(snapshot, self.suffix)

    def _header(self, snapshot: Snapshot) -> dict[str, Any]:
        doc = schema.to_dict(replace(snapshot, results={}, tasks=[]))
        del doc["results"]
        doc["tasks"] = None  # placeholder: keeps the key order of the codec
        return doc

    def _task_list(self, snapshot: Snapshot, render: Any) -> str:
        tasks = list(snapshot.tasks) or list(snapshot.results)
        cached = self._tasks
        if cached is None or cached[0] != tasks:
            cached = self._tasks = (tasks, render(tasks))
        return cached[1]

    def _render_json(self, snapshot: Snapshot) -> str:
        lines = ["{"]
        for key, value in self._header(snapshot).items():
            text = self._task_list(snapshot, _json) if key == "tasks" else _json(value)
            lines.append(f" {_json(key)}: {text},")
        results = snapshot.results
        if results:
            entry = self._entry
            cache = self._cache
            texts = []
            for n, r in results.items():
                cached = cache.get(n)
                texts.append(cached[1] if cached is not None and cached[0] is r else entry(n, r)[1])
            lines.append(' "results": {')
            lines.append(
                ",\n".join(map("  %s: %s".__mod__, zip(_names_json(results), texts, strict=True)))
            )
            lines.append(" }")
        else:
            lines.append(' "results": {}')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _render_toml(self, snapshot: Snapshot) -> str:
        header = self._header(snapshot)
        del header["tasks"]
        pack_toml_value(header, "context")
        # Top-level keys come before any table: the plain keys, the task list, the rest
        # of the header (keys, then its tables), then the results.
        first = {k: header.pop(k) for k in _FIRST_KEYS if k in header}
        parts = [tomli_w.dumps(first), self._task_list(snapshot, self._toml_array)]
        parts.append(tomli_w.dumps(header))
        results = snapshot.results
        plain: list[str] = []
        tables: list[str] = []
        entry = self._entry
        for name, result in results.items():
            fields = entry(name, result)[2]
            if fields is not None:
                plain.append(f"{self._toml_key(name)} = {PLAIN_TOML % fields}\n")
            else:
                tables.append(self._toml_table(name, result))
        parts.append("\n[results]\n")
        parts.extend(plain)
        if tables:
            parts.append("\n")
            parts.extend(tables)
        return "".join(parts)

    def _toml_array(self, names: list[str]) -> str:
        if not names:
            return "tasks = []\n"
        items = _toml_strings(_TASK_LINES.encode(names)[1:-1])  # one name a line, in C
        return f"tasks = [\n    {items},\n]\n"

    def _toml_table(self, name: str, result: TaskResult) -> str:
        cached = self._toml_tables.get(name)
        if cached is None or cached[0] is not result:
            table = schema.result_to_dict(name, result)
            pack_toml_value(table, "data")
            cached = self._toml_tables[name] = (result, tomli_w.dumps({"results": {name: table}}))
        return cached[1] + "\n"
