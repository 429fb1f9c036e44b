"""The value types of a run: statuses, results, metrics, steps and their policies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

C = TypeVar("C")


class TaskStatus(StrEnum):
    """How a task ended: exactly the reference runner's four outcomes."""

    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """Where a run stands: not started, running, paused, or how it ended."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # every task ended and none failed or was cancelled
    FAILED = "failed"  # a task failed or was cancelled (or skipped because of that)
    CANCELLED = "cancelled"  # the run was cancelled (a cancel, the workflow timeout)

    @property
    def is_over(self) -> bool:
        return self in _OVER


_OVER = frozenset((RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELLED))


# Looking up an enum member costs about 100 ns on Python 3.11 (more than the rest of a
# status test): code that runs once per task compares against these.
SUCCESS = TaskStatus.SUCCESS
CANCELLED = TaskStatus.CANCELLED


def _coerce_status(value: Any) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in TaskStatus)
        raise ValueError(f"TaskResult.status must be one of {allowed}, got {value!r}") from None


@dataclass(slots=True, eq=False)
class TaskMetrics:
    """Timings of one task; datetimes are timezone-aware UTC."""

    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float = 0.0
    attempts: int = 0

    @property
    def started_ts(self) -> float | None:
        """The start as a `time.time()` reading, when these metrics were recorded from
        clock readings (the executor's); then `started_at` is that reading in UTC and
        `finished_at` is `started_ts + duration_ms / 1000`. None for metrics made from
        datetimes. Lets a writer format the times without making the datetimes."""
        return None

    def _key(self) -> tuple[datetime | None, datetime | None, float, int]:
        return (self.started_at, self.finished_at, self.duration_ms, self.attempts)

    def __eq__(self, other: object) -> bool:
        # By value, whatever the subclass (ClockMetrics equals the TaskMetrics it saves as).
        if not isinstance(other, TaskMetrics):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"TaskMetrics(started_at={self.started_at!r}, finished_at={self.finished_at!r}, "
            f"duration_ms={self.duration_ms!r}, attempts={self.attempts!r})"
        )


# The slot descriptors of the two datetimes, which ClockMetrics shadows with properties.
_STARTED_SLOT: Any = vars(TaskMetrics)["started_at"]
_FINISHED_SLOT: Any = vars(TaskMetrics)["finished_at"]


class ClockMetrics(TaskMetrics):
    """TaskMetrics recorded by the executor as raw clock readings.

    Building two aware datetimes costs more than running a no-op task, so they are made
    when first read. To a reader this is a TaskMetrics like any other.
    """

    __slots__ = ("_started_ts",)

    _started_ts: float

    @classmethod
    def from_clock(cls, started_ts: float, elapsed: float, attempts: int) -> ClockMetrics:
        """Metrics of a task that started at `started_ts` (time.time) and ran `elapsed` s."""
        self = cls.__new__(cls)  # the datetime slots stay unset until read
        self._started_ts = started_ts
        self.duration_ms = elapsed * 1000.0
        self.attempts = attempts
        return self

    @property
    def started_ts(self) -> float | None:
        return self._started_ts

    @property
    def started_at(self) -> datetime | None:
        try:
            value: datetime | None = _STARTED_SLOT.__get__(self)
        except AttributeError:
            value = datetime.fromtimestamp(self._started_ts, UTC)
            _STARTED_SLOT.__set__(self, value)
        return value

    @started_at.setter
    def started_at(self, value: datetime | None) -> None:
        _STARTED_SLOT.__set__(self, value)

    @property
    def finished_at(self) -> datetime | None:
        try:
            value: datetime | None = _FINISHED_SLOT.__get__(self)
        except AttributeError:
            value = datetime.fromtimestamp(self._started_ts + self.duration_ms / 1000.0, UTC)
            _FINISHED_SLOT.__set__(self, value)
        return value

    @finished_at.setter
    def finished_at(self, value: datetime | None) -> None:
        _FINISHED_SLOT.__set__(self, value)


@dataclass(slots=True, init=False)
class TaskResult:
    """The outcome of one task.

    `data` holds whatever the body returned; JSON-compatible values survive a snapshot
    round trip unchanged. `traceback` keeps the formatted traceback of a body that raised,
    for the detail view. `data_is_repr` marks a value that could not be serialized and was
    replaced by its `repr`.
    """

    status: TaskStatus
    message: str | None
    error: str | None
    data: Any
    metrics: TaskMetrics | None
    traceback: str | None
    data_is_repr: bool

    # Written by hand rather than generated: one result is made per task, and the
    # generated __init__ plus a __post_init__ call cost a third more.
    def __init__(
        self,
        status: TaskStatus,
        message: str | None = None,
        error: str | None = None,
        data: Any = None,
        metrics: TaskMetrics | None = None,
        traceback: str | None = None,
        data_is_repr: bool = False,
    ) -> None:
        # Accept "success" etc. from task bodies; anything else is a clear error.
        self.status = status if type(status) is TaskStatus else _coerce_status(status)
        self.message = message
        self.error = error
        self.data = data
        self.metrics = metrics
        self.traceback = traceback
        self.data_is_repr = data_is_repr

    @property
    def ok(self) -> bool:
        return self.status is SUCCESS


@dataclass(slots=True)
class RetryPolicy:
    """Run a failed task again.

    `attempts` counts retries after the first run, `delay` is in seconds before the first
    retry; with `backoff="exponential"` it doubles on each retry, capped by `max_delay`.
    `should_retry(result)` may veto a retry for a given failure.
    """

    attempts: int = 0
    delay: float = 0.0
    backoff: Literal["fixed", "exponential"] = "fixed"
    should_retry: Callable[[TaskResult], bool] | None = None
    max_delay: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError(f"RetryPolicy.attempts must be >= 0, got {self.attempts}")
        if self.delay < 0:
            raise ValueError(f"RetryPolicy.delay must be >= 0, got {self.delay}")
        if self.backoff not in ("fixed", "exponential"):
            raise ValueError(
                f"RetryPolicy.backoff must be 'fixed' or 'exponential', got {self.backoff!r}"
            )

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if self.backoff == "exponential":
            wait: float = self.delay * (2 ** (retry - 1))  # int ** int is Any to mypy
        else:
            wait = self.delay
        if self.max_delay is not None:
            wait = min(wait, self.max_delay)
        return wait


@dataclass(slots=True)
class LoopPolicy(Generic[C]):
    """Run a task repeatedly until `until(ctx, result)` is true.

    The task fails when `max_iterations` runs pass without `until` becoming true.
    """

    until: Callable[[C, TaskResult], bool | Awaitable[bool]]
    interval: float = 0.0
    max_iterations: int = 100

    def __post_init__(self) -> None:
        if self.max_iterations < 1:
            raise ValueError(f"LoopPolicy.max_iterations must be >= 1, got {self.max_iterations}")
        if self.interval < 0:
            raise ValueError(f"LoopPolicy.interval must be >= 0, got {self.interval}")


@dataclass(slots=True, eq=False)
class TaskStep(Generic[C]):
    """One node of a workflow: a body, its dependencies and how to run it."""

    name: str
    run: Callable[[C], Awaitable[Any] | Any]
    dependencies: Sequence[str] = ()
    retry: RetryPolicy | None = None
    loop: LoopPolicy[C] | None = None
    condition: Callable[[C], bool | Awaitable[bool]] | None = None
    priority: int = 0
    continue_on_error: bool = False
    timeout: float | None = None
    idempotent: bool = True
    version: str | None = None
    tags: Sequence[str] = field(default=())
    # True: the body always runs in the flow-tui process, whatever the invoker (a task
    # that touches the shared context or local resources).
    local: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"TaskStep.name must be a non-empty string, got {self.name!r}")
        if isinstance(self.dependencies, str):
            # A bare string would be iterated character by character.
            self.dependencies = (self.dependencies,)
        else:
            self.dependencies = tuple(self.dependencies)
        if isinstance(self.tags, str):
            self.tags = (self.tags,)
        else:
            self.tags = tuple(self.tags)
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"task {self.name!r}: timeout must be > 0 seconds, got {self.timeout}")
