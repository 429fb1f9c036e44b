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
from itertools import compress
from operator import is_not
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
    json_name,
    plain_fields,
    plain_lines,
)

__all__ = ["CheckpointRenderer", "toml_key"]

_FIRST_KEYS = ("format", "version", "created_at", "status", "workflow", "fingerprint")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TASK_LINES = json.JSONEncoder(ensure_ascii=False, separators=(",\n    ", ": "))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _toml_strings(json_text: str) -> str:
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json_text.replace("\x7f", "\\u007f")


def toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_strings(_json(name))


_JSON_LINE = "  %s: " + PLAIN_JSON  # a plain success among the results of a JSON file
_TOML_LINE = "%s = " + PLAIN_TOML + "\n"  # and under [results] in TOML


class CheckpointRenderer:
    """Encodes results once (`end_record`), and whole checkpoint documents from them.

    A result's line in the file is kept by name (`_lines`) with the result it encodes
    (`_encoded`): in JSON `  "name": {...}`, in TOML `name = {...}` for a plain success
    and None for a result written as a `[results."name"]` table. Two dicts, not one of
    pairs: a million pairs would be a million objects for the garbage collector to walk.

    Invariant: only a render writes `_lines` and `_encoded` (renders run one at a time),
    so they always agree. `end_record` runs on the event loop, possibly during a render
    in a worker thread: it only extends `_ended` (one list operation, atomic), which the
    next render takes in. An entry lost in that hand-off is only encoded again.
    """

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self._lines: dict[str, str | None] = {}
        self._encoded: dict[str, TaskResult] = {}
        self._ended: list[Any] = []  # flat: name, result, line, ... (see end_record)
        self._toml_tables: dict[str, tuple[TaskResult, str]] = {}
        self._tasks: tuple[list[str], str] | None = None
        self._keys: dict[str, str] = {}

    def _toml_key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = toml_key(name)
        return key

    def end_record(self, name: str, result: TaskResult) -> bytes:
        """The journal record of a task's end (its result encoded once, kept for files)."""
        fields = plain_fields(result)
        if fields is not None:
            text = PLAIN_JSON % fields
        else:
            text = _json(schema.result_to_dict(name, result))
        name_json = json_name(name)
        line: str | None
        if self.suffix == ".json":
            line = f"  {name_json}: {text}"
        else:
            line = None if fields is None else _TOML_LINE % (self._toml_key(name), *fields)
        self._ended.extend((name, result, line))
        return encode_end(name_json, text)

    def _result_lines(self, results: dict[str, TaskResult]) -> list[str | None]:
        """The line of each result, in order: from the cache, the others encoded now.

        Every step over all the results is a C loop (map, compress), so a file whose
        results are nearly all cached costs little more than joining their lines.
        """
        lines = self._lines
        encoded = self._encoded
        ended, self._ended = self._ended, []
        ended = ended[:]  # as it is now (whole triples: each added in one extend)
        encoded.update(zip(ended[0::3], ended[1::3], strict=True))
        lines.update(zip(ended[0::3], ended[2::3], strict=True))
        names = list(results)
        values = list(results.values())
        stale = list(compress(range(len(names)), map(is_not, map(encoded.get, names), values)))
        if stale:
            stale_names = list(map(names.__getitem__, stale))
            stale_values = list(map(values.__getitem__, stale))
            if self.suffix == ".json":
                made = plain_lines(stale_names, stale_values, _JSON_LINE, json_name)
                for i, line in enumerate(made):
                    if line is None:
                        name = stale_names[i]
                        text = _json(schema.result_to_dict(name, stale_values[i]))
                        made[i] = f"  {json_name(name)}: {text}"
            else:
                made = plain_lines(stale_names, stale_values, _TOML_LINE, self._toml_key)
            encoded.update(zip(stale_names, stale_values, strict=True))
            lines.update(zip(stale_names, made, strict=True))
        return list(map(lines.__getitem__, names))

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
            lines.append(' "results": {')
            lines.append(",\n".join(self._result_lines(results)))  # type: ignore[arg-type]
            lines.append(" }")
        else:
            lines.append(' "results": {}')
        lines.append("}\n")  # one join: at 1M results each copy of the text is 200 MB
        return "\n".join(lines)

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
        lines = self._result_lines(results)
        parts.append("\n[results]\n")
        parts.extend(filter(None, lines))
        if None in lines:
            parts.append("\n")
            parts.extend(
                self._toml_table(name, results[name])
                for name, line in zip(results, lines, strict=True)
                if line is None
            )
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
