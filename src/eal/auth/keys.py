"""API key secrets: generation and hashing.

Keys look like `eal_live_<43 url-safe chars>`. Only a SHA-256 hash and a
short display prefix are stored; the key has 256 bits of entropy, so a fast
hash is the right tool (there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from eal.kit.identity import Environment

KEY_PATTERN = re.compile(r"^eal_(live|test)_[A-Za-z0-9_-]{20,128}$")
PREFIX_LENGTH = 16


def generate_key(environment: Environment) -> str:
    """A new random API key for the given environment."""
    return f"eal_{environment.value}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> bytes:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_prefix(key: str) -> str:
    """The part of a key shown in listings (enough to recognise it, useless to use it)."""
    return key[:PREFIX_LENGTH]


def looks_like_key(value: str) -> bool:
    """Cheap syntax check before touching the database."""
    return bool(KEY_PATTERN.match(value))
