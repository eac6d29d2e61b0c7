"""Task definitions: what a job runs, with which payload, retries and concurrency.

Each domain declares its background work in its own `tasks.py` with
`@task("domain.name", payload=Model)`; the worker imports every `tasks.py`
and registers what they declare. `@schedule` makes a task periodic (cron).
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from eal.jobs.context import JobContext

P = TypeVar("P", bound=BaseModel)

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""`domain.task`: lower-case words, dot-separated (also the PgQueuer entrypoint)."""


class NoPayload(BaseModel):
    """The payload of a task that needs none."""

    model_config = ConfigDict(extra="forbid")


class TaskScope(StrEnum):
    """Whose data a task touches."""

    TENANT = "tenant"
    """One organization's: runs in runtime-role transactions with the tenant set."""
    SYSTEM = "system"
    """Maintenance across tenants: runs as the schema owner."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing task is retried: exponential backoff with jitter, then a held failure.

    Attempt n (1-based) that fails is retried after
    min(cap, base * 2**(n-1)) * a random factor in [0.5, 1.0), until
    `max_attempts` have failed; the job is then kept with status `failed`
    (`eal jobs list --failed`, `eal jobs retry ID`). A task raises
    `PermanentJobError` to fail at once, without retries.
    """

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base < timedelta(0) or self.cap < self.base:
            raise ValueError("retry base must be >= 0 and cap >= base")

    def delay(self, failed_attempt: int, rng: Callable[[], float] = random.random) -> timedelta:
        """The wait before the attempt after `failed_attempt` (1-based)."""
        exponential = self.base * (1 << max(0, failed_attempt - 1))
        capped = min(self.cap, exponential)
        # Equal jitter: spread retries of many jobs that failed together, but
        # never retry sooner than half the backoff.
        return capped * (0.5 + rng() / 2)


class PermanentJobError(Exception):
    """A task failed in a way a retry cannot fix (bad payload, missing record, refused input)."""


TaskFunction = Callable[["JobContext", Any], Awaitable[None]]


@dataclass(frozen=True)
class TaskDef(Generic[P]):
    """A registered task."""

    name: str
    fn: Callable[[JobContext, P], Awaitable[None]]
    payload: type[P]
    scope: TaskScope
    concurrency: int
    """Jobs of this task running at once across all workers (0: no limit)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class ScheduleDef:
    """A task that runs periodically: the scheduler defers one job per cron tick."""

    task: str
    cron: str


TASKS: dict[str, TaskDef[Any]] = {}
SCHEDULES: dict[str, ScheduleDef] = {}


def check_task_name(name: str) -> str:
    """`name` if it is a valid task name; ValueError otherwise."""
    if not TASK_NAME.match(name):
        raise ValueError(f"task name {name!r} must look like 'domain.task' (lower case, dots)")
    return name


def task(
    name: str,
    *,
    payload: type[P],
    scope: TaskScope = TaskScope.TENANT,
    concurrency: int = 0,
    retry: RetryPolicy | None = None,
) -> Callable[
    [Callable[[JobContext, P], Awaitable[None]]], Callable[[JobContext, P], Awaitable[None]]
]:
    """Register the decorated coroutine as the task `name` (e.g. `calls.classify`).

    `payload` is the Pydantic model its jobs carry (validated when the job
    runs); `scope` whose data it touches; `concurrency` how many of its jobs
    may run at once across every worker (0: no limit).
    """
    check_task_name(name)
    if concurrency < 0:
        raise ValueError("concurrency must be >= 0")

    def register(
        fn: Callable[[JobContext, P], Awaitable[None]],
    ) -> Callable[[JobContext, P], Awaitable[None]]:
        if name in TASKS:
            raise RuntimeError(f"task {name!r} is registered twice")
        TASKS[name] = TaskDef(
            name=name,
            fn=fn,
            payload=payload,
            scope=scope,
            concurrency=concurrency,
            retry=retry or RetryPolicy(),
        )
        return fn

    return register


def schedule(task_name: str, *, cron: str) -> None:
    """Run `task_name` (a registered task without payload fields) on the cron expression `cron`."""
    from croniter import croniter

    check_task_name(task_name)
    if not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression {cron!r} for {task_name}")
    if task_name in SCHEDULES:
        raise RuntimeError(f"task {task_name!r} is scheduled twice")
    SCHEDULES[task_name] = ScheduleDef(task=task_name, cron=cron)
