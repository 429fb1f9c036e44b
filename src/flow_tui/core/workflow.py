"""Workflow: a named list of steps plus run defaults, as a workflow module defines it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from flow_tui.core.graph import TaskGraph, build_graph
from flow_tui.core.model import LoopPolicy, RetryPolicy, TaskStep

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(eq=False)
class Workflow:
    """A DAG of tasks with the defaults to run it.

    `context` is a factory called once per run (or None for no context). `save_context`
    / `restore_context` opt in to saving the JSON-compatible part of the context in
    snapshots; without them the context is never serialized.
    """

    name: str
    steps: list[TaskStep[Any]] = field(default_factory=list)
    context: Callable[[], Any] | None = None
    concurrency: int | None = 4
    timeout: float | None = None
    save_context: Callable[[Any], Any] | None = None
    restore_context: Callable[[Any, Any], None] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Workflow.name must be a non-empty string, got {self.name!r}")
        self.steps = list(self.steps)
        self._graph: tuple[tuple[TaskStep[Any], ...], TaskGraph] | None = None

    def graph(self) -> TaskGraph:
        """The steps, validated and indexed (WorkflowValidationError if they are not a DAG).

        Built once while `steps` holds the same step objects: loading a workflow
        validates it, and the run that follows reuses that work.
        """
        steps = tuple(self.steps)
        cached = self._graph
        if cached is None or cached[0] != steps:  # steps compare by identity
            cached = self._graph = (steps, build_graph(steps))
        return cached[1]

    def make_context(self) -> Any:
        return self.context() if self.context is not None else None

    # Two signatures, so a type checker sees the function come back unchanged both ways.
    @overload
    def task(
        self,
        fn: F,
        *,
        name: str | None = None,
        dependencies: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        loop: LoopPolicy[Any] | None = None,
        condition: Callable[[Any], Any] | None = None,
        priority: int = 0,
        continue_on_error: bool = False,
        timeout: float | None = None,
        idempotent: bool = True,
        version: str | None = None,
        tags: Sequence[str] = (),
        local: bool = False,
    ) -> F: ...

    @overload
    def task(
        self,
        fn: None = None,
        *,
        name: str | None = None,
        dependencies: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        loop: LoopPolicy[Any] | None = None,
        condition: Callable[[Any], Any] | None = None,
        priority: int = 0,
        continue_on_error: bool = False,
        timeout: float | None = None,
        idempotent: bool = True,
        version: str | None = None,
        tags: Sequence[str] = (),
        local: bool = False,
    ) -> Callable[[F], F]: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        dependencies: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        loop: LoopPolicy[Any] | None = None,
        condition: Callable[[Any], Any] | None = None,
        priority: int = 0,
        continue_on_error: bool = False,
        timeout: float | None = None,
        idempotent: bool = True,
        version: str | None = None,
        tags: Sequence[str] = (),
        local: bool = False,
    ) -> Any:
        """Decorator adding a function as a step (named after it unless `name` is given).

        Usable bare (`@wf.task`) or with options (`@wf.task(dependencies=["a"])`); the
        function is returned unchanged.
        """

        def add(body: Callable[..., Any]) -> Callable[..., Any]:
            self.steps.append(
                TaskStep(
                    name=name or body.__name__,
                    run=body,
                    dependencies=dependencies,
                    retry=retry,
                    loop=loop,
                    condition=condition,
                    priority=priority,
                    continue_on_error=continue_on_error,
                    timeout=timeout,
                    idempotent=idempotent,
                    version=version,
                    tags=tags,
                    local=local,
                )
            )
            return body

        if fn is not None:
            return add(fn)
        return add

    def step(self, name: str) -> TaskStep[Any]:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)
