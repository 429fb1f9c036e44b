"""The command palette (ctrl+p): every action of the dashboard, found by name.

Built from the live bindings of the app and its panes, so the palette, the help screen
and the key bar never disagree; each command says its key. A command that does not apply
now says why instead of doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode


@dataclass(slots=True, frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str
    node: DOMNode


def palette_commands(
    nodes: Iterable[DOMNode], key_display: Callable[[Binding], str]
) -> Iterator[PaletteCommand]:
    """One command per action bound on `nodes` (declared order), with its keys in force."""
    seen: set[tuple[int, str]] = set()
    for node in nodes:
        keys: dict[str, list[str]] = {}
        for _key, binding in node._bindings:  # Textual has no public view of keys in force
            keys.setdefault(binding.action, []).append(key_display(binding))
        for cls in reversed(type(node).__mro__):
            for declared in getattr(cls, "BINDINGS", ()) if "BINDINGS" in vars(cls) else ():
                if not isinstance(declared, Binding) or declared.id is None:
                    continue
                mark = (id(node), declared.action)
                if mark in seen or declared.action not in keys:
                    continue
                seen.add(mark)
                shown = " / ".join(dict.fromkeys(keys[declared.action]))
                about = declared.tooltip or declared.description
                yield PaletteCommand(
                    declared.description, f"{shown}  ·  {about}", declared.action, node
                )
