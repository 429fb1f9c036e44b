"""The async runner core: no UI, no file formats, no printing."""

from flow_tui.core.errors import FlowError, SnapshotError, WorkflowValidationError
from flow_tui.core.events import (
    Event,
    EventBus,
    Plugin,
    PluginContext,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowStart,
)
from flow_tui.core.executor import CommitBarrier, WorkflowExecutor
from flow_tui.core.graph import TaskGraph, build_graph, mermaid
from flow_tui.core.invoke import LocalInvoker, TaskInvoker, current_task_name
from flow_tui.core.model import (
    LoopPolicy,
    RetryPolicy,
    TaskMetrics,
    TaskResult,
    TaskStatus,
    TaskStep,
)
from flow_tui.core.runner import TaskRunner, TaskRunnerBuilder
from flow_tui.core.snapshot import FORMAT_NAME, FORMAT_VERSION, Snapshot
from flow_tui.core.state import (
    InterruptedTaskError,
    MarkDoneError,
    ResumePlan,
    TaskStateManager,
    marked_done_result,
)
from flow_tui.core.strategies import (
    DryRunStrategy,
    ExecutionStrategy,
    LoopingStrategy,
    RetryingStrategy,
    StandardStrategy,
    TaskRun,
    default_strategy,
)
from flow_tui.core.workflow import Workflow

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "CommitBarrier",
    "DryRunStrategy",
    "Event",
    "EventBus",
    "ExecutionStrategy",
    "FlowError",
    "InterruptedTaskError",
    "LocalInvoker",
    "LoopPolicy",
    "LoopingStrategy",
    "MarkDoneError",
    "Plugin",
    "PluginContext",
    "ResumePlan",
    "RetryPolicy",
    "RetryingStrategy",
    "Snapshot",
    "SnapshotError",
    "StandardStrategy",
    "TaskEnd",
    "TaskGraph",
    "TaskInvoker",
    "TaskMetrics",
    "TaskResult",
    "TaskRetry",
    "TaskRun",
    "TaskRunner",
    "TaskRunnerBuilder",
    "TaskSkipped",
    "TaskStart",
    "TaskStateManager",
    "TaskStatus",
    "TaskStep",
    "Workflow",
    "WorkflowEnd",
    "WorkflowExecutor",
    "WorkflowPaused",
    "WorkflowResumed",
    "WorkflowStart",
    "WorkflowValidationError",
    "build_graph",
    "current_task_name",
    "default_strategy",
    "marked_done_result",
    "mermaid",
]
