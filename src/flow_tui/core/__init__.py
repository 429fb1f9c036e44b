"""The async runner core: no UI, no file formats, no printing."""

from flow_tui.core.commit import CommitBarrier, GroupCommit
from flow_tui.core.errors import FlowError, SnapshotError, WorkflowValidationError
from flow_tui.core.events import (
    EVENT_NAMES,
    Event,
    EventBus,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowStart,
)
from flow_tui.core.executor import WorkflowExecutor
from flow_tui.core.graph import TaskGraph, build_graph, mermaid
from flow_tui.core.invoke import (
    LocalInvoker,
    TaskInterrupted,
    TaskInvoker,
    ThreadedInvoker,
    UpstreamError,
    current_task_name,
    upstream,
)
from flow_tui.core.model import (
    LoopPolicy,
    RetryPolicy,
    RunStatus,
    TaskMetrics,
    TaskResult,
    TaskStatus,
    TaskStep,
)
from flow_tui.core.plugins import Plugin, PluginContext, PluginHost
from flow_tui.core.resume import (
    InterruptedTaskError,
    MarkDoneError,
    ResumePlan,
    check_consent,
    marked_done_result,
    missing_consent,
    plan_resume,
    resume_snapshot,
)
from flow_tui.core.runner import TaskRunner, TaskRunnerBuilder
from flow_tui.core.snapshot import FORMAT_NAME, FORMAT_VERSION, Snapshot
from flow_tui.core.state import TaskStateManager
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
    "EVENT_NAMES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "CommitBarrier",
    "DryRunStrategy",
    "Event",
    "EventBus",
    "ExecutionStrategy",
    "FlowError",
    "GroupCommit",
    "InterruptedTaskError",
    "LocalInvoker",
    "LoopPolicy",
    "LoopingStrategy",
    "MarkDoneError",
    "Plugin",
    "PluginContext",
    "PluginHost",
    "ResumePlan",
    "RetryPolicy",
    "RetryingStrategy",
    "RunStatus",
    "Snapshot",
    "SnapshotError",
    "StandardStrategy",
    "TaskEnd",
    "TaskGraph",
    "TaskInterrupted",
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
    "ThreadedInvoker",
    "UpstreamError",
    "Workflow",
    "WorkflowEnd",
    "WorkflowExecutor",
    "WorkflowPaused",
    "WorkflowResumed",
    "WorkflowStart",
    "WorkflowValidationError",
    "build_graph",
    "check_consent",
    "current_task_name",
    "default_strategy",
    "marked_done_result",
    "mermaid",
    "missing_consent",
    "plan_resume",
    "resume_snapshot",
    "upstream",
]
