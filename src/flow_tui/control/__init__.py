"""Watching and steering a run from another terminal: every run serves a Unix socket.

`registry` finds the runs of this user (one folder, a socket and a record per run),
`protocol` is the JSON Lines spoken over it, `controls` the steering commands of a
Session with their rules (written once, for the socket and the dashboard's keys),
`server` serves them from the run, `client` talks to a run.
"""

from __future__ import annotations

from collections.abc import Callable

from flow_tui.control.controls import Controls
from flow_tui.control.protocol import EventLines
from flow_tui.control.registry import ControlError
from flow_tui.control.server import ControlServer
from flow_tui.session import Session


async def serve_controls(
    session: Session,
    *,
    front_end: str,
    notice: Callable[[str], None],
    stop: Callable[[float | None, str], None] | None = None,
    start: Callable[[], None] | None = None,
    changed: Callable[[], None] | None = None,
    controls: Controls | None = None,
    lines: EventLines | None = None,
) -> ControlServer | None:
    """Serve `session`'s controls on its socket, unless `--no-control` turned it off.

    `controls`: the front end's own Controls of `session` (its keys use them too), else
    one made of `start`, `stop` and `changed`. `lines`: the jsonl reporter's, so each
    event is encoded once for both. A socket that cannot be served does not
    stop the run: `notice` says why and the run goes on without it (None).
    """
    if not session.options.control:
        return None
    if controls is None:
        controls = Controls(session, start=start, stop=stop, changed=changed)
    server = ControlServer(controls, front_end=front_end, notice=notice, lines=lines)
    try:
        await server.start()
    except ControlError as exc:
        notice(f"no control socket for this run: {exc}")
        return None
    return server


__all__ = ["ControlError", "ControlServer", "Controls", "serve_controls"]
