"""Encryption at rest for tenant secrets (webhook signing secrets, vendor credentials).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, keyed from
`EAL_SECRET_KEY`, or from a key generated once into the data directory.

Several keys may be configured, newest first: `EAL_SECRET_KEY` separated by
commas, `EAL_DATA_DIR/secret.key` one per line. The newest key encrypts, every
key decrypts, so a new key can be introduced before what it replaces is
re-encrypted (`eal secrets rotate`). Any string is key material: each key is
stretched with SHA-256 into a Fernet key, as a single key always was.

`cryptography` is imported on the first encryption or decryption, not with this
module: its bindings (OpenSSL linked in) hold about 6 MB of every process's
memory, and a server or worker that stores no tenant secret never needs them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

KEY_FILE_NAME = "secret.key"
KEY_SEPARATOR = ","
_UNOPENED = "stored secret cannot be decrypted with the configured keys"


def split_keys(value: str) -> list[str]:
    """The keys named by one `EAL_SECRET_KEY` value, newest first.

    Without a comma the whole value is the key, verbatim (as it always was).
    With commas, each non-empty piece is a key, stripped of surrounding spaces.
    """
    if KEY_SEPARATOR not in value:
        return [value] if value else []
    return [piece.strip() for piece in value.split(KEY_SEPARATOR) if piece.strip()]


def _fernet(key_material: str) -> Fernet:
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(key_material.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _unopened() -> tuple[type[Exception], ...]:
    """What a token no configured key opens raises (evaluated only when one is raised)."""
    from cryptography.fernet import InvalidToken

    return (InvalidToken, UnicodeError)


class SecretBox:
    """Encrypts short secrets under the newest key and decrypts them under any key."""

    def __init__(self, key_material: str | Sequence[str]) -> None:
        """`key_material`: one `EAL_SECRET_KEY`-style string, or the keys themselves.

        A string is split on commas (`split_keys`); a sequence holds one key per
        item, newest first, each taken verbatim. Raises ValueError without a key.
        """
        if isinstance(key_material, str):
            keys = split_keys(key_material)
            # A key set before several keys were supported may itself hold a
            # comma: it still opens (never encrypts) what it encrypted then.
            legacy = [key_material] if KEY_SEPARATOR in key_material else []
        else:
            keys, legacy = list(key_material), []
        keys = list(dict.fromkeys(keys))
        if not keys or not all(keys):
            raise ValueError("no secret key configured (EAL_SECRET_KEY or secret.key is empty)")
        self._key_count = len(keys)
        self._materials = tuple(keys)
        self._openers = (*keys[1:], *legacy)

    @cached_property
    def _newest(self) -> Fernet:
        return _fernet(self._materials[0])

    @cached_property
    def _all(self) -> MultiFernet:
        from cryptography.fernet import MultiFernet

        return MultiFernet([self._newest, *(_fernet(k) for k in self._openers)])

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        """The box of the configured keys: `EAL_SECRET_KEY`, else the data directory's file.

        The file is created with one random key on first use.
        """
        if secret_key:
            return cls(secret_key)
        return cls(load_secret_keys(None, data_dir))

    @property
    def key_count(self) -> int:
        """How many keys are configured (the newest one encrypts)."""
        return self._key_count

    def derive(self, purpose: str) -> list[bytes]:
        """One 32-byte key per configured key, newest first, for `purpose` only.

        Other uses of the secret keys (signing URLs) get keys of their own:
        HMAC-SHA256 of the purpose under each key, so a value made for one
        purpose is worthless for another and for encryption.
        """
        return [
            hmac.new(material.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()
            for material in self._materials
        ]

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a secret for storage, under the newest key."""
        return self._newest.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a stored secret; raises ValueError if no configured key opens it."""
        try:
            return self._all.decrypt(token.encode("ascii")).decode("utf-8")
        except _unopened() as exc:
            raise ValueError(_UNOPENED) from exc

    def is_current(self, token: str) -> bool:
        """Whether the newest key opens `token` (nothing to re-encrypt)."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except _unopened():
            return False
        return True

    def rotate(self, token: str) -> str:
        """`token`'s secret encrypted again under the newest key (its timestamp kept).

        Raises ValueError if no configured key opens it.
        """
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except _unopened() as exc:
            raise ValueError(_UNOPENED) from exc


def generate_key() -> str:
    """A new random key (32 bytes, URL-safe base64), as the data directory stores them."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def key_file(data_dir: Path) -> Path:
    """Where a data directory keeps its generated keys."""
    return data_dir / KEY_FILE_NAME


def read_key_file(data_dir: Path) -> list[str]:
    """The data directory's keys, newest first (one per line); empty if there is no file."""
    try:
        content = key_file(data_dir).read_text()
    except FileNotFoundError:
        return []
    return [line.strip() for line in content.splitlines() if line.strip()]


def load_secret_keys(secret_key: str | None, data_dir: Path) -> list[str]:
    """The configured keys, newest first: `EAL_SECRET_KEY`'s, else the data directory's.

    Without either, a key is generated into the data directory (once, even
    when several processes start together).
    """
    if secret_key:
        return split_keys(secret_key)
    keys = read_key_file(data_dir)
    if keys:
        return keys
    data_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    try:
        fd = os.open(key_file(data_dir), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return read_key_file(data_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return [key]


def load_secret_key(secret_key: str | None, data_dir: Path) -> str:
    """The configured key material as one string that `SecretBox(...)` accepts.

    `EAL_SECRET_KEY` as set, or the data directory's keys joined by commas.
    Prefer `SecretBox.from_settings`, which takes file keys verbatim.
    """
    if secret_key:
        return secret_key
    return KEY_SEPARATOR.join(load_secret_keys(None, data_dir))


def add_key_to_file(data_dir: Path) -> list[str]:
    """Put a new random key first in the data directory's key file; the keys now stored.

    The older keys stay (they still open what they encrypted). The file is
    replaced atomically, so a process starting meanwhile reads the old list or
    the new one, never a torn file. Raises FileNotFoundError without a file.
    """
    with _locked(data_dir):
        keys = read_key_file(data_dir)
        if not keys:
            raise FileNotFoundError(f"no keys in {key_file(data_dir)}")
        updated = [generate_key(), *keys]
        fd, temporary = tempfile.mkstemp(prefix=f".{KEY_FILE_NAME}.", dir=data_dir)
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates it with mode 0600
                handle.write("\n".join(updated) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, key_file(data_dir))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    return updated


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data directory, so two key additions never race.

    Without it, two concurrent additions could each write their key beside the
    old ones and one new key would be lost, with whatever it encrypted.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks to take
        yield
        return
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def mask(secret: str, visible: int = 4) -> str:
    """A display hint for a secret: only its last characters."""
    if len(secret) <= visible:
        return "*" * len(secret)
    return "*" * 4 + secret[-visible:]
