"""Object storage in a directory: one file per key, written atomically."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from eal.storage.base import Storage, StorageNotFound, check_key

__all__ = ["LocalStorage"]


class LocalStorage(Storage):
    """Files under `root` (the service uses `EAL_DATA_DIR/files`).

    A write goes to a temporary file in the target's directory, is flushed and then
    renamed over the target (`os.replace`), so a reader sees the old bytes or the new
    ones, never a partial file. The content type is not kept: the caller stores it
    with its own record. Blocking file calls run in a worker thread.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file that holds `key` (checked: it is always under `root`)."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise StorageNotFound(key) from exc

    async def delete(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            await asyncio.to_thread(path.unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
