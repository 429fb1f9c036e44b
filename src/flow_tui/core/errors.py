"""Exceptions users see: each carries one clear sentence naming the thing and the fix."""

from __future__ import annotations


class FlowError(Exception):
    """Base of every error flow-tui reports to a user as one line (exit code 2 in the CLI)."""


class WorkflowValidationError(FlowError, ValueError):
    """The task graph is not runnable: a cycle, a missing dependency or a duplicate name."""


class SnapshotError(FlowError, ValueError):
    """A snapshot could not be read, written or applied."""
