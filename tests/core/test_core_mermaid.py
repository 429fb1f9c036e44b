"""TaskRunner.mermaid: a graph TD with safe node ids and escaped labels."""

from __future__ import annotations

import re
from typing import Any

from flow_tui import TaskRunner, TaskStep

NODE = re.compile(r'^    (\S+)\["(.*)"\]$')
EDGE = re.compile(r"^    (\S+) --> (\S+)$")
SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def steps(*spec: tuple[str, tuple[str, ...]]) -> list[TaskStep[Any]]:
    return [TaskStep(name, lambda c: None, dependencies=deps) for name, deps in spec]


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "graph TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:]:
        if m := NODE.match(line):
            assert m.group(1) not in nodes, f"duplicate node id {m.group(1)}"
            nodes[m.group(1)] = m.group(2)
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        else:
            raise AssertionError(f"unexpected line {line!r}")
    return nodes, edges


def test_simple_graph() -> None:
    text = TaskRunner.mermaid(steps(("extract", ()), ("load", ("extract",))))
    nodes, edges = parse(text)
    by_label = {label: node for node, label in nodes.items()}
    assert set(by_label) == {"extract", "load"}
    assert edges == [(by_label["extract"], by_label["load"])]


def test_awkward_names_get_safe_unique_ids_and_escaped_labels() -> None:
    names = ["load[1]", "a b", 'say "hi"', "x-y", "x_y", "x.y", "end", "graph", "a|b;c"]
    spec: list[tuple[str, tuple[str, ...]]] = [(n, ()) for n in names]
    spec.append(("sink", tuple(names)))
    text = TaskRunner.mermaid(steps(*spec))
    nodes, edges = parse(text)
    assert len(nodes) == len(names) + 1
    for node, label in nodes.items():
        assert SAFE.match(node), node
        assert '"' not in label
        assert "[" not in label and "]" not in label
        assert "|" not in label
    labels = set(nodes.values())
    assert "load#91;1#93;" in labels
    assert "say #quot;hi#quot;" in labels
    assert "a b" in labels
    assert "end" not in nodes  # a keyword must not be a bare node id
    assert len(edges) == len(names)
    assert len({src for src, _ in edges}) == len(names)


def test_ids_stay_unique_when_a_name_looks_like_a_disambiguated_id() -> None:
    # "a.b" and "a b" share a sanitized form; "a_b_2" must not collide with the second.
    text = TaskRunner.mermaid(steps(("a_b_2", ()), ("a.b", ()), ("a b", ("a_b_2",))))
    nodes, edges = parse(text)
    assert sorted(nodes.values()) == ["a b", "a.b", "a_b_2"]
    by_label = {label: node for node, label in nodes.items()}
    assert edges == [(by_label["a_b_2"], by_label["a b"])]


def test_newline_in_a_name_stays_on_one_line() -> None:
    nodes, _ = parse(TaskRunner.mermaid(steps(("two\nlines", ()))))
    assert list(nodes.values()) == ["two lines"]


def test_statuses_add_classes() -> None:
    text = TaskRunner.mermaid(
        steps(("a", ()), ("b", ("a",))), statuses={"a": "success", "b": "failure"}
    )
    assert "classDef success" in text
    assert re.search(r"^    class \S+ success$", text, re.M)
    assert re.search(r"^    class \S+ failure$", text, re.M)
