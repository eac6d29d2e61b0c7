"""Object storage for photos and generated files: a directory, or an S3 bucket.

`open_storage` reads `EAL_STORAGE_URL`:

- unset or empty: files under `<EAL_DATA_DIR>/files`;
- `file:///absolute/path`: files under that directory;
- `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1`: objects in
  the bucket under the prefix; `endpoint` (an S3-compatible server: MinIO, R2, ...)
  and `region` are optional, credentials come from the AWS environment variables.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from eal.storage.base import Storage, StorageNotFound, check_key
from eal.storage.local import LocalStorage
from eal.storage.s3 import S3Storage

__all__ = ["LocalStorage", "S3Storage", "Storage", "StorageNotFound", "check_key", "open_storage"]

_S3_PARAMETERS = frozenset({"endpoint", "region"})
_URL_FORMS = "s3://bucket/prefix or file:///absolute/path"


def open_storage(storage_url: str | None, data_dir: Path) -> Storage:
    """The storage `storage_url` names (`EAL_STORAGE_URL`); `data_dir/files` when unset.

    Raises ValueError, with a message fit for an operator, for any other URL. Nothing
    is contacted: a bucket that does not exist or refuses the credentials fails on
    the first call.
    """
    url = (storage_url or "").strip()
    if not url:
        return LocalStorage(Path(data_dir) / "files")
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise ValueError(f"EAL_STORAGE_URL {url!r}: a file URL is file:///absolute/path")
        if not path.startswith("/") or "\x00" in path:
            raise ValueError(f"EAL_STORAGE_URL {url!r}: the path must be absolute")
        return LocalStorage(Path(path))
    if parts.scheme == "s3":
        return _s3(url)
    raise ValueError(f"EAL_STORAGE_URL {url!r} is not supported: use {_URL_FORMS}")


def _s3(url: str) -> Storage:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ValueError(
            "EAL_STORAGE_URL must not carry credentials: "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead"
        )
    bucket = parts.netloc
    if not bucket:
        raise ValueError(f"EAL_STORAGE_URL {url!r} names no bucket: use s3://bucket/prefix")
    if parts.fragment:
        raise ValueError(f"EAL_STORAGE_URL {url!r}: an s3 URL has no #fragment")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    unknown = sorted(set(query) - _S3_PARAMETERS)
    if unknown:
        raise ValueError(
            f"EAL_STORAGE_URL: unknown parameter(s) {', '.join(unknown)}; "
            "an s3 URL takes endpoint and region"
        )
    if any(len(values) > 1 for values in query.values()):
        raise ValueError("EAL_STORAGE_URL: give endpoint and region once each")
    endpoint = query.get("endpoint", [""])[0].strip() or None
    if endpoint is not None:
        where = urlsplit(endpoint)
        if where.scheme not in ("http", "https") or not where.hostname:
            raise ValueError(
                f"EAL_STORAGE_URL: endpoint {endpoint!r} must be an http(s) URL "
                "such as http://127.0.0.1:9000"
            )
    region = query.get("region", [""])[0].strip() or None
    prefix = unquote(parts.path).strip("/")
    try:
        return S3Storage(bucket, prefix, endpoint_url=endpoint, region=region)
    except ValueError as exc:
        raise ValueError(f"EAL_STORAGE_URL {url!r}: {exc}") from exc
