"""Plugins: objects that hook listeners onto a runner when it is built.

`TaskRunnerBuilder.use(plugin)` calls `plugin.install(PluginContext(runner, context))`.
The runner is seen through `PluginHost`, the part of a TaskRunner a plugin may use, so
this module needs nothing of the runner's (and the runner may import it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from flow_tui.core.events import EventBus, Listener
from flow_tui.core.snapshot import Snapshot


class PluginHost(Protocol):
    """What a plugin sees of the runner it is installed on (a TaskRunner is one)."""

    @property
    def events(self) -> EventBus: ...

    def pause(self, interrupt: bool = False) -> None: ...

    def resume(self, *, rerun_interrupted: bool = False, mark_done: Iterable[str] = ()) -> None: ...

    def cancel(self) -> None: ...

    def snapshot(self, context: Any = None) -> Snapshot: ...


class Plugin(Protocol):
    """Installs listeners on a runner. An async `install` (one that returns an awaitable)
    is awaited when the run starts, before any task runs."""

    def install(self, context: PluginContext) -> Awaitable[None] | None: ...


@dataclass(slots=True)
class PluginContext:
    """What a plugin may touch while it installs: the runner's events and context."""

    runner: PluginHost
    context: Any

    def on(self, name: str, listener: Listener) -> None:
        self.runner.events.on(name, listener)
