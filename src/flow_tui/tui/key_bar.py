"""The footer: the keys that apply now, on one line.

Textual's Footer rebuilds a widget per key whenever the keys change (pause becomes
resume, retry comes and goes), which costs a relayout in the middle of a busy run. This
bar renders the same keys as one line of text: a change costs one repaint.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._targets: list[tuple[int, int, DOMNode, str]] = []  # cells -> action

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    @property
    def shown(self) -> list[tuple[str, str, bool]]:
        """(key, description, enabled) of each key shown, left to right."""
        out = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((self.app.get_key_display(binding), binding.description, active.enabled))
        return out

    def render(self) -> Content:
        parts: list[Content] = []
        targets: list[tuple[int, int, DOMNode, str]] = []
        seen: set[str] = set()
        x = 0
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            if active.enabled:
                part = Content.assemble(
                    (f" {key} ", "bold $footer-key-foreground"),
                    (f"{binding.description} ", "$footer-description-foreground"),
                )
            else:
                part = Content.styled(f" {key} {binding.description} ", "dim")
            if active.enabled:
                targets.append((x, x + part.cell_length, active.node, binding.action))
            parts.append(part)
            x += part.cell_length
        self._targets = targets
        return Content("").join(parts)

    async def _on_click(self, event: events.Click) -> None:
        for start, end, node, action in self._targets:
            if start <= event.x < end:
                event.stop()
                await self.app.run_action(action, node)
                return
