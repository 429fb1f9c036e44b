"""flow-tui: a terminal dashboard and headless runner for DAGs of Python tasks."""

from flow_tui.core import (
    LoopPolicy,
    RetryPolicy,
    Snapshot,
    SnapshotError,
    TaskMetrics,
    TaskResult,
    TaskRunner,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
    UpstreamError,
    Workflow,
    WorkflowValidationError,
    upstream,
)
from flow_tui.snapshot import codec as _codec  # registers the snapshot codecs with core

__version__ = "0.1.0"

__all__ = [
    "LoopPolicy",
    "RetryPolicy",
    "Snapshot",
    "SnapshotError",
    "TaskMetrics",
    "TaskResult",
    "TaskRunner",
    "TaskRunnerBuilder",
    "TaskStatus",
    "TaskStep",
    "UpstreamError",
    "Workflow",
    "WorkflowValidationError",
    "__version__",
    "upstream",
]

del _codec
