"""Object storage in an S3 bucket: AWS, or any S3-compatible server (MinIO, R2, ...).

boto3 is imported on the first call, not with this module: a service that keeps its
files on disk never loads it (some 30 MB of memory and a noticeable start-up time).
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from eal.storage.base import Storage, StorageNotFound, check_key

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["S3Storage"]

_T = TypeVar("_T")

#: Seconds to connect to the server, and to wait for each answer.
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
#: Attempts per call, with botocore's standard retry mode (throttling, 5xx, timeouts).
MAX_ATTEMPTS = 3
# Codes S3 and its imitators answer for a missing object (HEAD has no body, hence "404").
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})


class S3Storage(Storage):
    """Objects in `bucket`, each key under `prefix` (`<prefix>/<key>`).

    Credentials not given here come from boto3's usual chain (`AWS_ACCESS_KEY_ID`
    and `AWS_SECRET_ACCESS_KEY`, a profile, an instance role). The endpoint, when not
    given, is `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, else AWS itself; with an
    endpoint, requests use path-style addressing (`<endpoint>/<bucket>/<key>`), which
    every S3-compatible server understands, unlike bucket subdomains. Each object keeps
    its content type. Calls run in a worker thread (the client is thread-safe).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"an S3 bucket name must be non-empty, without '/': {bucket!r}")
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both an S3 access key and its secret key, or neither")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or None
        )
        self.region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Storage({self.bucket!r}, {self.prefix!r}{where})"

    def object_key(self, key: str) -> str:
        """The key of `key`'s object in the bucket (checked, under the prefix)."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        name = self.object_key(key)
        await self._call(
            lambda s3: s3.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            )
        )

    async def get(self, key: str) -> bytes:
        name = self.object_key(key)

        def read(s3: Any) -> bytes:
            answer = s3.get_object(Bucket=self.bucket, Key=name)
            with answer["Body"] as body:
                data: bytes = body.read()
            return data

        try:
            return await self._call(read)
        except _Missing as exc:
            raise StorageNotFound(key) from exc

    async def delete(self, key: str) -> None:
        # S3 answers 204 whether or not the object was there.
        name = self.object_key(key)
        await self._call(lambda s3: s3.delete_object(Bucket=self.bucket, Key=name))

    async def exists(self, key: str) -> bool:
        name = self.object_key(key)
        try:
            await self._call(lambda s3: s3.head_object(Bucket=self.bucket, Key=name))
        except _Missing:
            return False
        return True

    async def _call(self, call: Callable[[Any], _T]) -> _T:
        return await asyncio.to_thread(self._run, call)

    def _run(self, call: Callable[[Any], _T]) -> _T:
        from botocore.exceptions import ClientError

        s3 = self.client()
        try:
            return call(s3)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                raise _Missing from exc
            raise

    def client(self) -> Any:
        """The boto3 S3 client, created (and boto3 imported) on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
        )
        # A session of its own: boto3's default session is not safe to share across threads.
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            config=config,
        )


class _Missing(Exception):
    """The server has no such object (raised inside the worker thread)."""
