"""`eal worker`: the worker as its own process."""

from __future__ import annotations

import asyncio
import signal

from eal.app import build_state
from eal.config import Settings
from eal.worker.runner import start_in_process


async def run_forever(settings: Settings) -> None:
    """Run the worker loops until SIGINT/SIGTERM."""
    state = build_state(settings)
    worker = await start_in_process(state)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await state.http.aclose()
        await state.rate_limiter.close()
        await state.db.dispose()
