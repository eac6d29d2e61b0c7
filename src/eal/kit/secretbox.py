"""Encryption at rest for tenant secrets (webhook signing secrets, vendor credentials).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, keyed from
`EAL_SECRET_KEY`, or from a key generated once into the data directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE_NAME = "secret.key"


class SecretBox:
    """Encrypts and decrypts short secrets."""

    def __init__(self, key_material: str) -> None:
        # Any string is accepted as key material; it is stretched to a Fernet key.
        digest = hashlib.sha256(key_material.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a secret for storage."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a stored secret; raises ValueError if it was not made with this key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured key") from exc


def load_secret_key(secret_key: str | None, data_dir: Path) -> str:
    """The configured key, or the data directory's generated key (created on first use)."""
    if secret_key:
        return secret_key
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def mask(secret: str, visible: int = 4) -> str:
    """A display hint for a secret: only its last characters."""
    if len(secret) <= visible:
        return "*" * len(secret)
    return "*" * 4 + secret[-visible:]
