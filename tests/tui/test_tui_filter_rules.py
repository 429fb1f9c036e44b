"""The task filter: `matches` and `select` answer what the rule says (every word of the
query in the name, as a tag, or as the status, or "kept"), however the filter finds it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flow_tui import TaskStep
from flow_tui.tui.status import RowStatus
from flow_tui.tui.task_filter import TaskFilter, _Names


def _noop(ctx: object) -> None:
    return None


def rule(step: TaskStep[Any], query: str, status: RowStatus, kept: bool) -> bool:
    """The filter's rule, written plainly."""
    name = step.name.lower()
    tags = {t.lower() for t in step.tags}
    for word in query.lower().split():
        if word in name or word in tags or word == status.value or (kept and word == "kept"):
            continue
        return False
    return True


# Names as written, mixed case (a name lowercased is another text), and names that
# lowercasing makes longer or that hold the separator: each way of finding a name.
alphabets = st.sampled_from(["ab_12-", "abAB_12-", "abAB_12-\x00İ"])
words = st.sampled_from(["a", "b", "ab", "_1", "2", "i̇", "kept", "success", "failure", "x"])


@settings(max_examples=300, deadline=None)
@given(
    tasks=alphabets.flatmap(
        lambda alphabet: st.lists(
            st.tuples(
                st.text(alphabet=alphabet, min_size=1, max_size=6),
                st.lists(st.sampled_from(["ab", "B", "kept", "x"]), max_size=2),
            ),
            min_size=1,
            max_size=12,
            unique_by=lambda t: t[0],
        )
    ),
    query=st.lists(words, min_size=1, max_size=3).map(" ".join),
    statuses=st.lists(st.sampled_from(list(RowStatus)), min_size=12, max_size=12),
    kept=st.lists(st.booleans(), min_size=12, max_size=12),
    find_at_most=st.sampled_from([0, 1, 20_000]),
)
def test_the_filter_answers_the_rule(
    tasks: list[tuple[str, list[str]]],
    query: str,
    statuses: list[RowStatus],
    kept: list[bool],
    find_at_most: int,
) -> None:
    steps: list[TaskStep[Any]] = [TaskStep(n, _noop, tags=tags) for n, tags in tasks]
    original = _Names.FIND_AT_MOST
    _Names.FIND_AT_MOST = find_at_most  # the search by text and the pass over names
    try:
        task_filter = TaskFilter(steps, query)
    finally:
        _Names.FIND_AT_MOST = original
    status_of = {s.name: statuses[i] for i, s in enumerate(steps)}
    kept_names = {s.name for i, s in enumerate(steps) if kept[i]}
    expected = {s.name for s in steps if rule(s, query, status_of[s.name], s.name in kept_names)}
    for step in steps:
        name = step.name
        got = task_filter.matches(name, status_of[name], name in kept_names)
        assert got == (name in expected), (name, query)
    assert task_filter.select(status_of, kept_names) == expected
