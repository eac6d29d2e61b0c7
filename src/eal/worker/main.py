"""`eal worker`: the worker as its own process."""

from __future__ import annotations

import asyncio
import signal

from eal import metrics
from eal.config import Settings
from eal.runtime import Runtime, settle_memory
from eal.worker.runner import start_in_process


async def run_forever(settings: Settings) -> None:
    """Run the worker loops until SIGINT/SIGTERM."""
    # Handlers first: a signal that arrives while the worker is still starting
    # (importing task modules, opening pools) must stop it cleanly once started,
    # not kill it with the default action.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime.build(settings)
    try:
        # The worker has no API to answer /metrics: only EAL_METRICS_PORT exports its metrics.
        async with metrics.exporting(settings, runtime.db):
            worker = await start_in_process(runtime)
            settle_memory()
            try:
                await stop.wait()
            finally:
                await worker.stop()
    finally:
        await runtime.aclose()
