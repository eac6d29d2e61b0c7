"""Background work of outreach: delivering messages, sequence runs, the minute sweep."""

from __future__ import annotations

from eal import jobs
from eal.outreach.runs import (
    RUN_CONCURRENCY,
    RUN_TASK,
    SWEEP_TASK,
    RunSequence,
    run_sequence,
    sweep,
)
from eal.outreach.sending import PROVIDER_RETRY, DeliverMessage, deliver
from eal.outreach.service import DELIVER_TASK

jobs.task(DELIVER_TASK, payload=DeliverMessage, retry=PROVIDER_RETRY)(deliver)
jobs.task(RUN_TASK, payload=RunSequence, concurrency=RUN_CONCURRENCY)(run_sequence)
jobs.task(SWEEP_TASK, payload=jobs.NoPayload, scope=jobs.TaskScope.SYSTEM, concurrency=1)(sweep)
jobs.schedule(SWEEP_TASK, cron="* * * * *")

__all__ = ["deliver", "run_sequence", "sweep"]
