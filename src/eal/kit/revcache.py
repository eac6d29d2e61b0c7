"""A cache keyed by (organization, config revision), for data derived from an organization's config.

The database raises `organizations.config_revision` whenever an
organization's settings, weather events or webhook endpoints change, however
they are changed, and every request reads the revision with its API key. A
value cached under the revision a transaction read is therefore current for
that transaction: no expiry, no invalidation messages between processes.

A transaction that changes the config itself stops trusting the cache
(`Tx.config_changed`); callers pass the revision `Tx.cached_revision` gives,
which is None then.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

DEFAULT_SIZE = 4096


class RevisionCache(Generic[V]):
    """A bounded LRU map from (organization id, config revision) to a derived value."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("a revision cache holds at least one entry")
        self._size = size
        self._entries: OrderedDict[tuple[uuid.UUID, int], V] = OrderedDict()

    def get(self, organization_id: uuid.UUID, revision: int | None) -> V | None:
        """The value kept for this revision, if any (None when `revision` is None)."""
        if revision is None:
            return None
        key = (organization_id, revision)
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, organization_id: uuid.UUID, revision: int, value: V) -> None:
        """Keep `value` for this revision, dropping the least recently used beyond the size."""
        key = (organization_id, revision)
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (tests)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
