"""The Textual dashboard: `flow-tui launch WORKFLOW` without --headless.

Importing this package imports Textual; the core, snapshot and headless paths never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flow_tui.session import Session

__all__ = ["run_dashboard"]


def run_dashboard(session: Session, grace: float = 10.0) -> int:
    """Run the dashboard over `session` until the operator quits; return an exit code.

    Quitting gives the run's own code, as headless does: 0 when every task succeeded, 1
    when any failed, was skipped or cancelled, or work was left undone. 129 / 130 / 143:
    stopped by SIGHUP / SIGINT / SIGTERM, after running tasks had `grace` seconds to end.
    2: the final checkpoint could not be written. The session is closed on the way out
    (final checkpoint, lock).
    """
    import asyncio
    import os
    import sys

    from flow_tui.exit_codes import EXIT_FAILED, EXIT_USAGE
    from flow_tui.tui.app import DashboardApp

    app = DashboardApp(session, grace=grace)
    app.exit_watchdog = True
    # A runner of our own rather than app.run(): asyncio.run() would wait at exit for the
    # thread of a sync task body that ignored its cancellation, and never return.
    with asyncio.Runner() as runner:
        result = runner.run(app.run_async())
        if not app.session_closed:
            # The app ended before it could close the session on its loop (it crashed).
            session.close_now()
        app.close_controls_now()
        code = (app.return_code or EXIT_FAILED) if result is None else result
        if app.close_error:
            # The final checkpoint could not be written: exit 2, as headless does.
            print(f"flow-tui: {app.close_error}", file=sys.stderr)
            code = EXIT_USAGE
        if session.bodies_in_threads:
            # That thread still runs: leave without it (the checkpoint is closed).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code
