"""The SDK's public surface, and its coverage of the server's OpenAPI document."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import eal_sdk
import pytest
from eal_sdk import AsyncEalClient, EalClient, _operations
from eal_sdk import webhooks as sdk_webhooks

from eal.app import create_app
from eal.config import Settings

SDK = Path(__file__).resolve().parents[2] / "sdk" / "python"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused", secret_key="x"))
    built: dict[str, Any] = app.openapi()
    return built


def test_public_surface_is_exactly_all() -> None:
    public = {name for name in dir(eal_sdk) if not name.startswith("_")}
    assert public == set(eal_sdk.__all__) - {"__version__"}
    assert len(eal_sdk.__all__) == len(set(eal_sdk.__all__))
    webhooks_public = {
        name
        for name, value in vars(sdk_webhooks).items()
        if not name.startswith("_") and getattr(value, "__module__", "") == sdk_webhooks.__name__
    }
    assert webhooks_public <= set(sdk_webhooks.__all__)


def test_every_operation_of_the_server_has_a_client_method(document: dict[str, Any]) -> None:
    operations = {
        op["operationId"]: f"{method.upper()} {path}"
        for path, items in document["paths"].items()
        for method, op in items.items()
    }
    covered = set(_operations.OPERATIONS) | set(_operations.NOT_IN_CLIENT)
    missing = {op: where for op, where in operations.items() if op not in covered}
    assert not missing, f"operations the SDK lacks (add them to _operations.py): {missing}"
    stale = covered - set(operations)
    assert not stale, f"the SDK maps operations the server no longer has: {stale}"
    assert not set(_operations.OPERATIONS) & set(_operations.NOT_IN_CLIENT)
    assert all(reason.strip() for reason in _operations.NOT_IN_CLIENT.values())


@pytest.mark.parametrize("client_class", [EalClient, AsyncEalClient])
def test_every_mapped_method_exists(client_class: type[Any]) -> None:
    client = client_class("eal_live_x")
    for op_id, target in _operations.OPERATIONS.items():
        obj: Any = client
        for part in target.split("."):
            obj = getattr(obj, part, None)
            assert obj is not None, f"{client_class.__name__}.{target} ({op_id}) is missing"
        assert callable(obj)


def test_generated_modules_match_the_server(tmp_path: Path) -> None:
    """The models and resources packages are what tools/generate.py makes of today's document."""
    copy = tmp_path / "python"
    shutil.copytree(SDK, copy, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, str(copy / "tools" / "generate.py")], check=True)
    for package in ("models", "_resources"):
        fresh, shipped = copy / "src" / "eal_sdk" / package, SDK / "src" / "eal_sdk" / package
        names = sorted(p.name for p in fresh.glob("*.py"))
        assert names == sorted(p.name for p in shipped.glob("*.py")), package
        for name in names:
            assert filecmp.cmp(fresh / name, shipped / name, shallow=False), (
                f"eal_sdk/{package}/{name} is out of date: run `python sdk/python/tools/generate.py`"
            )
