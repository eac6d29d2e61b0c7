"""Background work of calls: transcription, classification and dispatch, one job per call each."""

from __future__ import annotations

from eal import jobs
from eal.calls.classify import ClassifyCall, classify
from eal.calls.effects import DISPATCH_RETRY, DispatchCall, dispatch
from eal.calls.service import CLASSIFY_TASK, DISPATCH_TASK, TRANSCRIBE_TASK
from eal.calls.transcribe import TRANSCRIBE_RETRY, TranscribeCall, transcribe

# Classification is CPU work of a few milliseconds, or an LLM call: a short retry.
CLASSIFY_RETRY = jobs.RetryPolicy(max_attempts=5)

jobs.task(CLASSIFY_TASK, payload=ClassifyCall, retry=CLASSIFY_RETRY)(classify)
jobs.task(TRANSCRIBE_TASK, payload=TranscribeCall, retry=TRANSCRIBE_RETRY)(transcribe)
jobs.task(DISPATCH_TASK, payload=DispatchCall, retry=DISPATCH_RETRY)(dispatch)

__all__ = ["classify", "dispatch", "transcribe"]
