"""The object storage contract: four async calls on keys that are relative paths."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import PurePosixPath

__all__ = ["Storage", "StorageNotFound", "check_key"]

#: Longest key accepted (S3 allows 1,024 bytes; the prefix takes some of them).
MAX_KEY_LENGTH = 900


class StorageNotFound(LookupError):
    """No object is stored under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object is stored under {key!r}")
        self.key = key


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative path such as `claims/<org>/<claim>/<photo>.jpg`.

    Raises ValueError for an empty or overlong key, an absolute path, a `..` or `.`
    segment, an empty segment (`a//b`, a trailing `/`), a backslash or a control
    character: whatever could reach outside the storage root, or name the same object
    two ways, on a file system or in a bucket.
    """
    if not key or len(key.encode()) > MAX_KEY_LENGTH:
        raise ValueError(f"a storage key must be 1 to {MAX_KEY_LENGTH} bytes")
    if "\\" in key or any(ord(ch) < 0x20 or ch == "\x7f" for ch in key):
        raise ValueError(
            f"a storage key must not contain backslashes or control characters: {key!r}"
        )
    if key.startswith("/") or PurePosixPath(key).is_absolute():
        raise ValueError(f"a storage key must be a relative path: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"a storage key must not have empty, '.' or '..' segments: {key!r}")
    return key


class Storage(ABC):
    """Where photos and generated files are kept, by key.

    Keys are relative POSIX paths, checked by every call (`ValueError` when unsafe).
    """

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; readers never see half of it."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes stored under `key`; `StorageNotFound` when there are none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object under `key`; a missing one is not an error."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
