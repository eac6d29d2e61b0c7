"""Local and S3 storage keep the same promises; S3 runs against moto's server on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from eal.storage import LocalStorage, S3Storage, Storage, StorageNotFound, open_storage

REGION = "us-east-1"
BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.jpg",
    "claims/../../outside.jpg",
    "claims/./a.jpg",
    "claims//a.jpg",
    "claims/a/",
    "claims\\a.jpg",
    "claims/a\x00.jpg",
    "claims/a\n.jpg",
    "x" * 1000,
]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 in a thread on a free port of 127.0.0.1, with fake credentials."""
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        # No developer's ~/.aws settings, and no instance metadata lookups.
        env.setenv("AWS_CONFIG_FILE", str(home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def _admin(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"eal-{uuid.uuid4().hex[:12]}"
    _admin(moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("bucket")
    yield S3Storage(bucket, "photos", endpoint_url=endpoint, region=REGION)


KEY = "claims/org_1/claim_1/photo_1.jpg"


async def test_put_get_exists_delete(storage: Storage) -> None:
    assert not await storage.exists(KEY)
    await storage.put(KEY, b"first", "image/jpeg")
    assert await storage.exists(KEY)
    assert await storage.get(KEY) == b"first"
    await storage.put(KEY, b"second, longer", "image/jpeg")
    assert await storage.get(KEY) == b"second, longer"
    await storage.delete(KEY)
    assert not await storage.exists(KEY)
    await storage.delete(KEY)  # missing: nothing to do


async def test_keys_are_separate(storage: Storage) -> None:
    await storage.put("claims/a/1.jpg", b"one", "image/jpeg")
    await storage.put("claims/a/2.jpg", b"two", "image/jpeg")
    await storage.put("claims/b/1.jpg", b"", "image/jpeg")
    assert await storage.get("claims/a/1.jpg") == b"one"
    assert await storage.get("claims/a/2.jpg") == b"two"
    assert await storage.get("claims/b/1.jpg") == b""
    # A "directory" is not an object.
    assert not await storage.exists("claims/a")


async def test_missing_key(storage: Storage) -> None:
    with pytest.raises(StorageNotFound) as caught:
        await storage.get("claims/none/missing.jpg")
    assert caught.value.key == "claims/none/missing.jpg"
    with pytest.raises(StorageNotFound):
        await storage.get("claims/a")  # a prefix of nothing
    await storage.put("claims/a/1.jpg", b"one", "image/jpeg")
    with pytest.raises(StorageNotFound):
        await storage.get("claims/a/1.jpg/below")


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="storage key"):
        await storage.put(key, b"x", "image/jpeg")
    with pytest.raises(ValueError, match="storage key"):
        await storage.get(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.exists(key)
    with pytest.raises(ValueError, match="storage key"):
        await storage.delete(key)


async def test_local_files_stay_under_root(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "files")
    await store.put(KEY, b"bytes", "image/jpeg")
    assert (tmp_path / "files" / "claims" / "org_1" / "claim_1" / "photo_1.jpg").read_bytes() == (
        b"bytes"
    )
    # Written through a temporary file that is renamed: none is left behind.
    assert [p.name for p in (tmp_path / "files" / "claims" / "org_1" / "claim_1").iterdir()] == [
        "photo_1.jpg"
    ]
    with pytest.raises(ValueError):
        await store.put("../escape.jpg", b"x", "image/jpeg")
    assert not (tmp_path / "escape.jpg").exists()


async def test_s3_objects_keep_content_type_under_prefix(moto_endpoint: str, bucket: str) -> None:
    store = S3Storage(bucket, "/photos/", endpoint_url=moto_endpoint, region=REGION)
    await store.put(KEY, b"\x89PNG...", "image/png")
    head = _admin(moto_endpoint).head_object(Bucket=bucket, Key=f"photos/{KEY}")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == len(b"\x89PNG...")
    # Without a prefix, the key is the object's name.
    bare = S3Storage(bucket, endpoint_url=moto_endpoint, region=REGION)
    assert not await bare.exists(KEY)
    await bare.put(KEY, b"plain", "image/jpeg")
    assert _admin(moto_endpoint).get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"plain"


async def test_s3_from_url_and_environment(
    moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = open_storage(f"s3://{bucket}/eal/photos?endpoint={moto_endpoint}", tmp_path)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.endpoint_url) == (bucket, "eal/photos", moto_endpoint)
    await store.put(KEY, b"via url", "image/jpeg")
    assert await store.get(KEY) == b"via url"
    # The endpoint may come from the AWS variable instead of the URL.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    from_env = open_storage(f"s3://{bucket}/eal/photos?region={REGION}", tmp_path)
    assert isinstance(from_env, S3Storage)
    assert from_env.endpoint_url == moto_endpoint and from_env.region == REGION
    assert await from_env.get(KEY) == b"via url"


async def test_s3_missing_bucket_is_an_error_not_a_missing_key(moto_endpoint: str) -> None:
    store = S3Storage("no-such-bucket-here", endpoint_url=moto_endpoint, region=REGION)
    with pytest.raises(Exception) as caught:
        await store.get(KEY)
    assert not isinstance(caught.value, StorageNotFound)


async def test_s3_explicit_credentials_are_used(moto_endpoint: str, bucket: str) -> None:
    store = S3Storage(
        bucket,
        endpoint_url=moto_endpoint,
        region=REGION,
        access_key="AKIAOTHER",
        secret_key="other-secret",
    )
    creds = store.client()._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("AKIAOTHER", "other-secret")
    await store.put(KEY, b"x", "image/jpeg")
    assert await store.exists(KEY)
    with pytest.raises(ValueError, match="both"):
        S3Storage(bucket, access_key="AKIAONLY")


def test_open_storage_default_and_file(tmp_path: Path) -> None:
    for unset in (None, "", "  "):
        store = open_storage(unset, tmp_path)
        assert isinstance(store, LocalStorage) and store.root == tmp_path / "files"
    store = open_storage("file:///srv/eal%20files/", tmp_path)
    assert isinstance(store, LocalStorage) and store.root == Path("/srv/eal files")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/files", "not supported"),
        ("/srv/files", "not supported"),
        ("files", "not supported"),
        ("file://host/srv/files", "file:///absolute/path"),
        ("file:///srv/files?x=1", "file:///absolute/path"),
        ("s3:///prefix", "names no bucket"),
        ("s3://key:secret@bucket/prefix", "credentials"),
        ("s3://bucket/prefix?endpoint=127.0.0.1:9000", "http"),
        ("s3://bucket/prefix?endpoint=ftp://127.0.0.1", "http"),
        ("s3://bucket/prefix?secret=abc", "unknown parameter"),
        ("s3://bucket/prefix?region=a&region=b", "once"),
        ("s3://bucket/a/../b", "'..'"),
    ],
)
def test_open_storage_refuses(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        open_storage(url, tmp_path)
    assert "EAL_STORAGE_URL" in str(caught.value)


def test_importing_storage_does_not_import_boto3() -> None:
    import subprocess
    import sys

    code = "import sys, eal.storage, eal.storage.s3; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
