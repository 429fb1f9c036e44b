"""The Textual dashboard: `flow-tui launch WORKFLOW` without --headless.

Importing this package imports Textual; the core, snapshot and headless paths never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flow_tui.session import Session

__all__ = ["run_dashboard"]


def run_dashboard(session: Session) -> int:
    """Run the dashboard over `session` until the operator quits; return an exit code.

    0: the run finished and every task succeeded. 1: it ended failed or cancelled, or
    was left unfinished without asking. 130: the operator quit (and confirmed) while work
    was unfinished. The session is closed on the way out (final checkpoint, lock).
    """
    from flow_tui.tui.app import EXIT_FAILED, DashboardApp

    app = DashboardApp(session)
    result = app.run()
    if not app.session_closed:
        # The app ended before it could close the session on its loop (it crashed).
        session.close_now()
    if app.close_error:
        import sys

        print(f"flow-tui: {app.close_error}", file=sys.stderr)
    if result is None:
        return app.return_code or EXIT_FAILED
    return result
