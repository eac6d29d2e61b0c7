"""A delivery worker in its own process, with a lease chosen by the test.

Usage: python -m tests.webhooks.worker_process DATABASE_URL SECRET_KEY LEASE_SECONDS

Prints "ready <worker id>" once it listens, then delivers until killed.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from eal.config import Settings
from eal.db.engine import Database
from eal.db.url import async_url
from eal.kit.secretbox import SecretBox
from eal.webhooks.worker import DeliveryWorker


async def main(database_url: str, secret_key: str, lease_seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="eal-worker-") as tmp:
        settings = Settings(
            redis_url=None,
            database_url=database_url,
            data_dir=Path(tmp),
            secret_key=secret_key,
            allow_private_webhook_urls=True,
            webhook_retry_schedule=(1, 2, 3),
        )
        db = Database.connect(async_url(database_url))
        worker = DeliveryWorker(
            settings=settings,
            db=db,
            box=SecretBox(secret_key),
            lease_seconds=lease_seconds,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await worker.listening.wait()
        sys.stdout.write(f"ready {worker.worker_id}\n")
        sys.stdout.flush()
        await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
