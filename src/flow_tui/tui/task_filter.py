"""The dashboard's task filter: a query of words, each matched by a task's name
(substring), a tag, its status, or `kept`.

Name and tags never change while a run moves, only the status: so what a task matches
by name or tag is found once per query, and what is left is a dict lookup per status
change. At a million tasks a filter is typed in a key press: a word is looked for by
`str.find` over one lowercased text of all the names, the rest is set operations, and
`select` answers for every task at once.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from itertools import accumulate, combinations, compress
from operator import add, attrgetter
from typing import Any

from flow_tui.core.model import TaskStep
from flow_tui.tui.status import RowStatus


class TaskFilter:
    """A query matching every word by name (substring), status, tag, or `kept`.

    Name and tags never change while a run moves; only the status does. So the words a
    task matches by name or tag are found once, and what is left for it to match is at
    most one status word and `kept`: `matches` is a dict lookup, cheap enough to ask at
    every status change. Built by one search per word over the lowercased names and set
    operations (a million tasks: a filter is typed in a key press); `select` answers for
    every task at once.
    """

    def __init__(self, steps: Sequence[TaskStep[Any]], query: str) -> None:
        self.query = query
        words = list(dict.fromkeys(query.lower().split()))
        known = _names_of(steps)
        carriers: dict[str, set[str]] = {}  # per word: the tasks whose name or a tag has it
        for word in words:
            has = known.with_word(word)
            has.update(name for name, tags in known.tagged if word in tags)
            carriers[word] = has
        # Words only a name or a tag can hold, and those a status (or `kept`) can too.
        fixed = [w for w in words if not _satisfiable(w)]
        open_words = [w for w in words if _satisfiable(w)]
        # task -> the words it still needs from its status and its being kept
        self.when: dict[str, frozenset[str]] = {}
        # With one such word alone, every task without it needs it: said once.
        self.fallback: frozenset[str] | None = None
        if not fixed and len(open_words) == 1:
            self.always: set[str] = carriers[open_words[0]]
            self.fallback = frozenset(open_words)
            return
        base = set.intersection(*(carriers[w] for w in fixed)) if fixed else set(known.names)
        self.always = base.intersection(*(carriers[w] for w in open_words))
        # By the set of words a task misses (a few words: a few sets), kept only when
        # one status and `kept` could still give them all.
        for size in range(1, len(open_words) + 1):
            for missed in combinations(open_words, size):
                if sum(1 for w in missed if w != "kept") > 1:
                    continue  # a task has one status
                names = base
                for w in open_words:
                    names = names - carriers[w] if w in missed else names & carriers[w]
                if names:
                    self.when.update(dict.fromkeys(names, frozenset(missed)))

    def matches(self, name: str, status: RowStatus, kept: bool = False) -> bool:
        if name in self.always:
            return True
        need = self.when.get(name, self.fallback)
        if need is None:
            return False
        value = status.value
        return all(w == value or (kept and w == "kept") for w in need)

    def select(self, statuses: Mapping[str, RowStatus], kept: Collection[str]) -> set[str]:
        """Every task of `statuses` this filter shows: `matches` for all at once."""
        out = set(self.always)
        if self.fallback is not None:
            (word,) = self.fallback
            if word == "kept":
                out.update(name for name in kept if name in statuses)
            else:
                status = RowStatus(word)
                out.update(name for name, now in statuses.items() if now is status)
        pending = RowStatus.PENDING
        for name, need in self.when.items():
            value = statuses.get(name, pending).value
            if all(w == value or (w == "kept" and name in kept) for w in need):
                out.add(name)
        return out


_STATUS_WORDS = frozenset(status.value for status in RowStatus)


def _satisfiable(word: str) -> bool:
    """Whether a task can match `word` by its status (or by being kept)."""
    return word in _STATUS_WORDS or word == "kept"


class _Names:
    """The names of a list of steps, lowercased, for filters: one text of them all, so
    that a word is looked for by `str.find` over the text (C), not name by name.

    A found place is told back as its name: cut out of the text between two separators
    when lowercasing changed no name (names are often lowercase already), else by its
    index among the names' starts (found by bisection). At a million tasks this is made
    in ~0.1 s; the names split apart are made only if a word is too common to look up.
    """

    SEP = "\x00"
    FIND_AT_MOST = 20_000  # matches looked up one by one; more: a pass over the names
    PIECE = 50_000  # steps read in one go

    def __init__(self, steps: Sequence[TaskStep[Any]]) -> None:
        self.steps = steps
        self.size = len(steps)
        # By pieces: made in a thread (prepare_filters), each C call short enough for the
        # dashboard's keys to go on between two.
        self.names: list[str] = []
        self.tagged: list[tuple[str, set[str]]] = []
        for at in range(0, len(steps), self.PIECE):
            piece = steps[at : at + self.PIECE]
            self.names.extend(map(attrgetter("name"), piece))
            self.tagged.extend(
                (step.name, {t.lower() for t in step.tags})
                for step in compress(piece, map(attrgetter("tags"), piece))
            )
        raw = self.SEP.join(self.names)
        text = raw.lower()
        # The text is searched only when each name is one piece of it, lowercased in
        # place: not when a name holds the separator, or lowercasing made one longer.
        usable = raw.count(self.SEP) == len(self.names) - 1 and len(text) == len(raw)
        self.text = text if usable else ""
        self.as_written = usable and text == raw  # a piece of the text is the name
        self._starts: list[int] | None = None
        self._lowered: list[str] | None = None
        if usable and not self.as_written:
            _ = self.starts  # what a search reads: made here, in prepare_filters' thread

    @property
    def starts(self) -> list[int]:
        """Where each name starts in the text."""
        if self._starts is None:
            lengths = accumulate(map(len, self.names), initial=0)
            self._starts = list(map(add, lengths, range(len(self.names) + 1)))
        return self._starts

    @property
    def lowered(self) -> list[str]:
        """Each name lowercased (a word too common to look up is checked name by name)."""
        if self._lowered is None:
            if self.as_written:
                self._lowered = self.names
            elif self.text:
                self._lowered = self.text.split(self.SEP)
            else:
                self._lowered = [name.lower() for name in self.names]
        return self._lowered

    def with_word(self, word: str) -> set[str]:
        """The tasks whose lowercased name holds `word`."""
        text = self.text
        if text and self.SEP not in word:
            found: set[str] = set()
            sep = self.SEP
            as_written = self.as_written
            if not as_written:
                starts = self.starts
                names = self.names
            at = text.find(word)
            while at >= 0:
                if as_written:
                    end = text.find(sep, at + len(word))
                    if end < 0:
                        end = len(text)
                    found.add(text[text.rfind(sep, 0, at) + 1 : end])
                else:
                    k = bisect_right(starts, at) - 1
                    found.add(names[k])
                    end = starts[k + 1] - 1
                if len(found) > self.FIND_AT_MOST:
                    break
                at = text.find(word, end + 1)
            else:
                return found
        return {name for name, low in zip(self.names, self.lowered, strict=True) if word in low}


_names_cache: _Names | None = None
_names_lock = threading.Lock()  # one maker at a time: a filter typed waits for it


def _names_of(steps: Sequence[TaskStep[Any]]) -> _Names:
    """The `_Names` of `steps`, kept for the last list asked (names never change, and
    each filter typed asks again)."""
    global _names_cache
    with _names_lock:
        cached = _names_cache
        if cached is not None and cached.steps is steps and cached.size == len(steps):
            return cached
        _names_cache = _Names(steps)
        return _names_cache


def prepare_filters(steps: Sequence[TaskStep[Any]]) -> None:
    """Make what every filter of `steps` reads (0.1-0.2 s at a million tasks) in a
    thread, so that the first filter typed is as quick as the next and the keys pressed
    meanwhile are not held up; a filter typed before it is ready waits for it."""
    cached = _names_cache
    if cached is not None and cached.steps is steps and cached.size == len(steps):
        return
    threading.Thread(
        target=_names_of, args=(steps,), name="flow-tui-filter-names", daemon=True
    ).start()


def make_filter(steps: Sequence[TaskStep[Any]], query: str) -> TaskFilter | None:
    """The filter of `query`; None when it is empty (no filter)."""
    return TaskFilter(steps, query) if query.split() else None
