"""TaskGraph.depths: the one-pass path for graphs declared in dependency order gives the
depths Kahn's order gives, whatever the declaration order."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flow_tui import TaskStep
from flow_tui.core.graph import build_graph


def _noop(ctx: object) -> None:
    return None


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=60),
    density=st.floats(min_value=0.0, max_value=0.5),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_depths_do_not_depend_on_the_declaration_order(n: int, density: float, seed: int) -> None:
    rng = random.Random(seed)
    deps = {i: [j for j in range(i) if rng.random() < density] for i in range(n)}
    steps: list[TaskStep[Any]] = [
        TaskStep(f"t{i}", _noop, [f"t{j}" for j in deps[i]]) for i in range(n)
    ]
    forward = build_graph(steps)
    assert forward.forward
    shuffled = steps[:]
    rng.shuffle(shuffled)
    other = build_graph(shuffled)
    by_name = dict(zip((s.name for s in shuffled), other.depths(), strict=True))
    expected: dict[str, int] = {}
    for i in range(n):  # the longest path from a root, by definition
        expected[f"t{i}"] = max((expected[f"t{j}"] + 1 for j in deps[i]), default=0)
    assert dict(zip((s.name for s in steps), forward.depths(), strict=True)) == expected
    assert by_name == expected
