"""The tables a large resume fills (the graph's index of names, a loaded snapshot's
results) are made by `str_table`, which only changes how fast they fill: they hold,
order and compare as the dicts made before did."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from flow_tui import Snapshot, TaskResult, TaskStatus, TaskStep
from flow_tui.core.graph import build_graph, str_table
from flow_tui.core.model import ClockMetrics

names = st.lists(st.text(min_size=1, max_size=8), max_size=40)


@given(names, st.lists(st.integers(), max_size=40))
def test_a_str_table_holds_what_a_dict_holds(keys: list[str], values: list[int]) -> None:
    pairs = list(zip(keys, values, strict=False))
    table = str_table(pairs)
    plain = dict(pairs)
    assert table == plain
    assert list(table.items()) == list(plain.items())  # same order
    assert len(table) == len(plain)
    for key in keys[::2]:
        table.pop(key, None)
        plain.pop(key, None)
    table["later"] = 1
    plain["later"] = 1
    assert list(table.items()) == list(plain.items())
    assert dict(table) == plain and table.copy() == plain


def noop(ctx: None) -> None:
    return None


@given(st.lists(st.text(min_size=1, max_size=6), unique=True, max_size=30))
def test_the_graph_index_maps_each_name_to_its_place(task_names: list[str]) -> None:
    steps = [
        TaskStep(name, noop, dependencies=task_names[:i][-2:]) for i, name in enumerate(task_names)
    ]
    graph = build_graph(steps)
    assert graph.index == {name: i for i, name in enumerate(task_names)}
    assert list(graph.index) == task_names
    assert graph.deps == [[*range(max(0, i - 2), i)] for i in range(len(task_names))]


def test_a_large_snapshot_loads_the_results_it_saved_in_order(tmp_path: Path) -> None:
    # Enough results for several pieces of the JSON reader and many growths of the table.
    results = {
        f"t{i}": TaskResult(
            TaskStatus.FAILURE if i % 1000 == 7 else TaskStatus.SUCCESS,
            error="boom" if i % 1000 == 7 else None,
            metrics=ClockMetrics.from_clock(1.7e9 + i / 3, i / 1000, 1),
        )
        for i in range(5000)
    }
    saved = Snapshot(results=results, tasks=list(results), workflow="wf")
    path = saved.save(tmp_path / "run.json")
    loaded = Snapshot.load(path)
    assert type(loaded.results) is dict
    assert list(loaded.results) == list(results)
    assert loaded.results == results
    # And as the json module reads the same file, by the general reader.
    whole = Snapshot.from_dict(json.loads(path.read_text()))
    assert whole.results == loaded.results and list(whole.results) == list(loaded.results)
    assert whole.versions == loaded.versions and list(whole.versions) == list(loaded.versions)
