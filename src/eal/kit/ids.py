"""Public ids of resources that the API shows with a prefix (`msg_...`, `sup_...`, `seq_...`).

The database keys are UUIDs; the API shows `<prefix>_<32 hex digits>`, so an
id says what it names and one kind cannot be passed for another.
"""

from __future__ import annotations

import uuid


def public_id(prefix: str, value: uuid.UUID) -> str:
    """`prefix_` followed by the UUID's 32 hex digits."""
    return f"{prefix}_{value.hex}"


def parse_public_id(prefix: str, text: str) -> uuid.UUID | None:
    """The UUID behind `prefix_<hex>`, or None when `text` is not such an id."""
    head = prefix + "_"
    if not text.startswith(head) or len(text) != len(head) + 32:
        return None
    try:
        return uuid.UUID(hex=text[len(head) :])
    except ValueError:
        return None
