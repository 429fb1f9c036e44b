"""Validation of a task graph, its fingerprint, depths and its Mermaid rendering."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Any

from flow_tui.core.errors import WorkflowValidationError
from flow_tui.core.model import TaskStep


@dataclass(slots=True, weakref_slot=True)
class TaskGraph:
    """The validated, indexed form of a list of steps (declaration order is kept)."""

    steps: list[TaskStep[Any]]
    index: dict[str, int]
    deps: list[list[int]]
    dependents: list[list[int]]
    _fingerprint: str | None = None
    # Every dependency is declared before its dependent (build_graph tells): declaration
    # order is then a topological order.
    forward: bool = False
    # The task names in declaration order and each task's version: see `declared`.
    _declared: tuple[list[str], dict[str, str | None]] | None = field(
        default=None, repr=False, compare=False
    )

    def declared(self) -> tuple[list[str], dict[str, str | None]]:
        """The task names in declaration order and each task's version, made once per
        graph for every snapshot of it (which copies them: they are not to be changed).
        The versions are built from the index (sized once), set only if one is not None.
        """
        if self._declared is None:
            names = [*self.index]
            versions: dict[str, str | None] = dict.fromkeys(self.index)
            current = [*map(_version_of, self.steps)]
            if current.count(None) != len(current):
                versions.update(zip(names, current, strict=True))
            self._declared = (names, versions)
        return self._declared

    def fingerprint(self) -> str:
        """A stable hash of the names and dependencies, independent of declaration order."""
        if self._fingerprint is None:
            self._fingerprint = self._hash()
        return self._fingerprint

    def _hash(self) -> str:
        import hashlib  # not needed on a run that never saves: keeps start-up short

        # Per task: name NUL, then each dependency (sorted) followed by SOH, then STX;
        # tasks in name order. Built as one string, each pass over the tasks a map() of
        # built-ins in declaration order, then the pieces sorted: a piece starts with its
        # name and NUL, so pieces sort as their names do unless a name holds a NUL
        # (then the names are sorted; told by the text's NULs, where a pass over the
        # names would cost more). At 1M tasks a loop per task cost over a second.
        deps = [*map(_deps_of, self.steps)]
        # Sorted only where a task has two or more (no list made per task otherwise).
        several = max(map(len, deps), default=0) > 1
        bodies = map(_SOH.join, map(sorted, deps) if several else deps)
        ends = map(_ENDS.__getitem__, map(bool, deps))  # no dependency: no SOH
        pieces = [*map("".join, zip(self.index, repeat("\x00"), bodies, ends))]
        text = "".join(sorted(pieces))
        if text.count("\x00") != len(pieces):
            # A name holds a NUL (without one, each piece holds one NUL): by the names.
            by_name = dict(zip(self.index, pieces, strict=True))
            text = "".join([by_name[name] for name in sorted(by_name)])
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]

    def depths(self) -> list[int]:
        """Longest distance from a root for every step (roots are 0)."""
        depth = [0] * len(self.steps)
        if self.forward:
            # In declaration order, each task after its dependencies: one pass, no
            # in-degree counts and no queue (a dashboard opening 1M tasks waits on it).
            get = depth.__getitem__
            for i, on in enumerate(self.deps):
                if on:
                    depth[i] = (depth[on[0]] if len(on) == 1 else max(map(get, on))) + 1
            return depth
        for i in topological_order(self):
            d = depth[i] + 1
            for j in self.dependents[i]:
                if depth[j] < d:
                    depth[j] = d
        return depth

    def downstream(self, roots: Sequence[int]) -> set[int]:
        """Every step reachable from `roots` through dependents, roots included."""
        seen = set(roots)
        stack = list(roots)
        while stack:
            for j in self.dependents[stack.pop()]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return seen


_SOH = "\x01"
_ENDS = ("\x02", "\x01\x02")  # by whether a task has dependencies
_deps_of = attrgetter("dependencies")


def topological_order(graph: TaskGraph) -> list[int]:
    """Kahn's order; ties broken by declaration order so the result is deterministic."""
    n = len(graph.steps)
    indegree = [len(d) for d in graph.deps]
    ready = [i for i in range(n) if indegree[i] == 0]
    order: list[int] = []
    pos = 0
    while pos < len(ready):
        i = ready[pos]
        pos += 1
        order.append(i)
        for j in graph.dependents[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append(j)
    return order


def build_graph(steps: Sequence[TaskStep[Any]]) -> TaskGraph:
    """Index and validate `steps`; raise WorkflowValidationError with one clear sentence."""
    step_list = list(steps)
    n = len(step_list)
    # The passes over every step use map() where they can: this runs once per execute,
    # and at 100k steps each interpreted line per step costs milliseconds.
    if False in map(isinstance, step_list, repeat(TaskStep)):
        i = next(i for i, step in enumerate(step_list) if not isinstance(step, TaskStep))
        raise WorkflowValidationError(
            f"step #{i + 1} is a {type(step_list[i]).__name__}, not a TaskStep"
        )
    index: dict[str, int] = str_table(zip(map(_name_of, step_list), range(n), strict=True))
    if len(index) != n:
        seen: set[str] = set()
        for step in step_list:
            if step.name in seen:
                raise WorkflowValidationError(
                    f"duplicate task name {step.name!r}: task names must be unique"
                )
            seen.add(step.name)
    deps: list[list[int]] = []
    dependents: list[list[int]] = [[] for _ in range(n)]
    get = index.get
    forward = True  # every dependency declared before its dependent: no cycle possible
    i = 0
    add = deps.append
    try:
        for i, names in enumerate(map(_deps_of, step_list)):
            if not names:
                add([])
                continue
            k = len(names)
            if k == 1:  # the usual case, written out: no list made to resolve it
                j: int = get(names[0])  # type: ignore[assignment]
                if j >= i:  # None (an unknown name) raises TypeError here
                    if j == i:
                        raise TypeError
                    forward = False
                dependents[j].append(i)
                add([j])
                continue
            mine: list[int] = [*map(get, names)]  # type: ignore[list-item]
            if mine[0] == mine[1] if k == 2 else len(set(mine)) != k:
                mine = list(dict.fromkeys(mine))  # a dependency named twice counts once
            for j in mine:
                if j >= i:
                    if j == i:
                        raise TypeError
                    forward = False
                dependents[j].append(i)
            add(mine)
    except TypeError:
        step = step_list[i]
        _bad_dependency(step, [*map(get, step.dependencies)], i)
        raise
    graph = TaskGraph(step_list, index, deps, dependents, forward=forward)
    if not forward and len(topological_order(graph)) != n:
        cycle = _find_cycle(graph)
        names_ = " -> ".join(repr(step_list[i].name) for i in cycle)
        raise WorkflowValidationError(f"dependency cycle: {names_}")
    return graph


_name_of = attrgetter("name")
_version_of = attrgetter("version")


class _NotAString:
    """The first key of a `str_table`, removed at once."""


def str_table(items: Iterable[tuple[Any, Any]] = ()) -> dict[Any, Any]:
    """A dict of `items` for a million string keys, filled faster than `dict(items)`
    (about half the time at 1M): a dict of `str` keys only keeps no hashes in its table,
    so each time it grows it reads every key's hash from the key itself, one cache miss
    per key, and the keys of a large table are all over memory. One other key, there for
    a moment, makes it a dict that keeps them (it stays one). A dict like any other
    otherwise.
    """
    table: dict[Any, Any] = {_NotAString: None}
    del table[_NotAString]
    table.update(items)
    return table


def _bad_dependency(step: TaskStep[Any], resolved: list[int | None], i: int) -> None:
    for dep, j in zip(step.dependencies, resolved, strict=True):
        if j is None:
            raise WorkflowValidationError(
                f"task {step.name!r} depends on {dep!r}, which is not a task of this workflow"
            )
        if j == i:
            raise WorkflowValidationError(f"task {step.name!r} depends on itself")


def _find_cycle(graph: TaskGraph) -> list[int]:
    """One cycle of the graph as step indexes, first step repeated at the end."""
    white, grey, black = 0, 1, 2
    colour = [white] * len(graph.steps)
    for start in range(len(graph.steps)):
        if colour[start] != white:
            continue
        path: list[int] = []
        stack: list[tuple[int, int]] = [(start, 0)]
        while stack:
            node, child = stack.pop()
            if child == 0:
                colour[node] = grey
                path.append(node)
            deps = graph.deps[node]
            if child < len(deps):
                stack.append((node, child + 1))
                nxt = deps[child]
                if colour[nxt] == grey:
                    cycle = path[path.index(nxt) :]
                    # deps point backwards, so reverse to read in execution order.
                    cycle.reverse()
                    return [*cycle, cycle[0]]
                if colour[nxt] == white:
                    stack.append((nxt, 0))
            else:
                colour[node] = black
                path.pop()
    return []  # pragma: no cover - only called when a cycle exists


_SAFE_ID = re.compile(r"[^A-Za-z0-9_]")

_STATUS_STYLE = {
    "success": "fill:#d4edda,stroke:#28a745",
    "failure": "fill:#f8d7da,stroke:#dc3545",
    "skipped": "fill:#e2e3e5,stroke:#6c757d",
    "cancelled": "fill:#fff3cd,stroke:#ffc107",
}


def mermaid(steps: Sequence[TaskStep[Any]], statuses: Mapping[str, str] | None = None) -> str:
    """A Mermaid `graph TD` of the steps; node ids are safe, labels escaped.

    With `statuses` (task name -> status), nodes are given a class per status.
    """
    graph = build_graph(steps)
    ids: list[str] = []
    used: set[str] = set()
    for i, step in enumerate(graph.steps):
        base = "t_" + _SAFE_ID.sub("_", step.name)
        node_id, k = base, i
        while node_id in used:  # another name may already have taken `base_i`
            node_id = f"{base}_{k}"
            k += 1
        used.add(node_id)
        ids.append(node_id)
    lines = ["graph TD"]
    for i, step in enumerate(graph.steps):
        lines.append(f'    {ids[i]}["{_escape_label(step.name)}"]')
    for i in range(len(graph.steps)):
        for j in graph.deps[i]:
            lines.append(f"    {ids[j]} --> {ids[i]}")
    if statuses:
        for status, style in _STATUS_STYLE.items():
            lines.append(f"    classDef {status} {style}")
        for i, step in enumerate(graph.steps):
            saved = statuses.get(step.name)
            if saved in _STATUS_STYLE:
                lines.append(f"    class {ids[i]} {saved}")
    return "\n".join(lines) + "\n"


def _escape_label(text: str) -> str:
    # Mermaid reads HTML entities inside quoted labels; quotes and brackets would end them.
    out = []
    for ch in text:
        if ch == '"':
            out.append("#quot;")
        elif ch in "<>&[]{}()|#;`\\":
            out.append(f"#{ord(ch)};")
        elif ch == "\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)
