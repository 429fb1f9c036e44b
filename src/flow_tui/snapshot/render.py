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

    A result's line in the file is kept by its task's position in the task list
    (`_order`): `_values[p]` the result it encodes (None: nothing kept), `_lines[p]` in
    JSON `  "name": {...}`, in TOML `name = {...}` for a plain success and None for a
    result written as a `[results."name"]` table. Lists by position, not dicts by name: a
    file's results are the task list's in its order (all of them at a run's end), so
    telling which changed since the last file is one pass over two lists side by side,
    where a lookup by name is a cache miss per result at 1M results. A result does not
    change once its task has ended (a new one replaces it), so `is` tells.

    Invariant: only a render writes `_order`, `_values`, `_lines` and `_ended_*` (renders
    run one at a time), so they always agree. `end_record` runs on the event loop,
    possibly during a render in a worker thread: it only extends `_ended` (one list
    operation, atomic), which the next render takes in. An entry lost in that hand-off
    is only encoded again.
    """

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self._order: list[str] = []  # the task list the positions below are of
        self._values: list[TaskResult | None] = []
        self._lines: list[str | None] = []
        self._order_text = ""  # the task list as the file writes it
        self._ended: list[Any] = []  # flat: name, result, line, ... (see end_record)
        # Lines end_record made of results that are not plain successes (a plain one is
        # formatted with the file, in one loop: cheaper than keeping its line), by name,
        # until a file places them. Two dicts, not one of pairs: no object per result.
        self._ended_values: dict[str, TaskResult] = {}
        self._ended_lines: dict[str, str | None] = {}
        self._toml_tables: dict[str, tuple[TaskResult, str]] = {}
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

    def _take_ended(self) -> None:
        ended, self._ended = self._ended, []
        ended = ended[:]  # as it is now (whole triples: each added in one extend)
        if ended:
            self._ended_values.update(zip(ended[0::3], ended[1::3], strict=True))
            self._ended_lines.update(zip(ended[0::3], ended[2::3], strict=True))

    def _use_order(self, tasks: list[str]) -> None:
        """Positions from now on are in `tasks`: what was kept of another list goes."""
        if tasks != self._order:
            n = len(tasks)
            self._order = tasks
            self._values = [None] * n
            self._lines = [None] * n
            self._order_text = ""

    def _result_lines(self, results: dict[str, TaskResult], tasks: list[str]) -> list[str | None]:
        """The line of each result, in order: those kept, the others encoded now.

        Every step over all the results is a C loop (map, compress, list comparisons),
        so a file whose results are nearly all kept costs little more than joining their
        lines. `tasks`: the file's task list (`_use_order` was told it).
        """
        self._take_ended()
        names = list(results)
        values = list(results.values())
        positions: list[int] | None = None  # of the results in `tasks`; None: the same
        if names != tasks:
            # Mid-run: the results of the tasks that ended, in the task list's order.
            mask = list(map(results.__contains__, tasks))
            if list(compress(tasks, mask)) != names:
                # Not in that order (or not all of its tasks): encoded whole, not kept.
                return self._encode(names, values)
            positions = list(compress(range(len(tasks)), mask))
        kept = self._values
        old = kept if positions is None else map(kept.__getitem__, positions)
        stale = list(compress(range(len(names)), map(is_not, old, values)))
        lines = self._lines
        if stale:
            stale_names = list(map(names.__getitem__, stale))
            stale_values = list(map(values.__getitem__, stale))
            made = self._encode(stale_names, stale_values)
            where = stale if positions is None else map(positions.__getitem__, stale)
            for p, value, line in zip(where, stale_values, made, strict=True):
                kept[p] = value
                lines[p] = line
            if self._ended_values:
                for name in stale_names:  # placed: no longer needed by name
                    self._ended_values.pop(name, None)
                    self._ended_lines.pop(name, None)
        if positions is None:
            return lines  # read only by the caller
        return list(map(lines.__getitem__, positions))

    def _encode(self, names: list[str], values: list[TaskResult]) -> list[str | None]:
        """The lines of these results: plain successes formatted in one loop, the others
        taken from what end_record made of the same result, else encoded now."""
        if self.suffix != ".json":
            # A result that is not a plain success is a table (see _toml_table): None.
            return plain_lines(names, values, _TOML_LINE, self._toml_key)
        made = plain_lines(names, values, _JSON_LINE, json_name)
        if None in made:
            ended_values = self._ended_values
            ended_lines = self._ended_lines
            for i, line in enumerate(made):
                if line is None:
                    name = names[i]
                    value = values[i]
                    if ended_values.get(name) is value:
                        made[i] = ended_lines[name]
                    else:
                        text = _json(schema.result_to_dict(name, value))
                        made[i] = f"  {json_name(name)}: {text}"
        return made

    def render(self, snapshot: Snapshot) -> bytes:
        return b"".join(self.render_pieces(snapshot))

    def render_pieces(self, snapshot: Snapshot) -> list[bytes]:
        """The file's bytes in a few pieces, to be written one after the other: at 1M
        results each copy of the text is 200 MB, and joining the pieces would be one."""
        try:
            if self.suffix == ".json":
                return [piece.encode("utf-8") for piece in self._render_json(snapshot)]
            return [self._render_toml(snapshot).encode("utf-8")]
        except UnicodeEncodeError:
            # Text that UTF-8 cannot hold: the codec says so precisely (or escapes it).
            return [encode(snapshot, self.suffix)]

    def _header(self, snapshot: Snapshot) -> dict[str, Any]:
        versions = snapshot.versions
        values = [*versions.values()]
        if values.count(None) == len(values):
            # The file writes no version that is None: with none set (the usual case),
            # the codec's pass that leaves them out would walk every task for nothing.
            versions = {}
        doc = schema.to_dict(replace(snapshot, results={}, tasks=[], versions=versions))
        del doc["results"]
        doc["tasks"] = None  # placeholder: keeps the key order of the codec
        return doc

    def _tasks_of(self, snapshot: Snapshot) -> list[str]:
        """The file's task list, which the positions of the lines kept are in."""
        tasks = list(snapshot.tasks) or list(snapshot.results)
        self._use_order(tasks)
        return self._order

    def _task_list(self, render: Any) -> str:
        if not self._order_text:
            self._order_text = render(self._order)
        return self._order_text

    def _render_json(self, snapshot: Snapshot) -> list[str]:
        tasks = self._tasks_of(snapshot)
        lines = ["{"]
        for key, value in self._header(snapshot).items():
            text = self._task_list(_json) if key == "tasks" else _json(value)
            lines.append(f" {_json(key)}: {text},")
        results = snapshot.results
        if not results:
            lines.append(' "results": {}')
            lines.append("}\n")
            return ["\n".join(lines)]
        lines.append(' "results": {\n')
        # The results joined once, apart from the rest (not copied into one text with it).
        body = ",\n".join(self._result_lines(results, tasks))  # type: ignore[arg-type]
        return ["\n".join(lines), body, "\n }\n}\n"]

    def _render_toml(self, snapshot: Snapshot) -> str:
        tasks = self._tasks_of(snapshot)
        header = self._header(snapshot)
        del header["tasks"]
        pack_toml_value(header, "context")
        # Top-level keys come before any table: the plain keys, the task list, the rest
        # of the header (keys, then its tables), then the results.
        first = {k: header.pop(k) for k in _FIRST_KEYS if k in header}
        parts = [tomli_w.dumps(first), self._task_list(self._toml_array)]
        parts.append(tomli_w.dumps(header))
        results = snapshot.results
        lines = self._result_lines(results, tasks)
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
