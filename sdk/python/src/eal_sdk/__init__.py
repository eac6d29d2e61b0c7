"""Python client of the eal API.

    from eal_sdk import EalClient

    client = EalClient("eal_live_...", base_url="https://eal.example.com")
    lead = client.leads.create(name="Sarah Mitchell", email="sarah@example.com")
    for lead in client.leads.list(stage="qualified"):
        ...

Models live in :mod:`eal_sdk.models`, webhook verification in :mod:`eal_sdk.webhooks`.
"""

from eal_sdk import models, webhooks
from eal_sdk._client import AsyncEalClient, EalClient
from eal_sdk._core import NOT_GIVEN, NotGiven
from eal_sdk._exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    EalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ValidationFailedError,
    WebhookVerificationError,
)
from eal_sdk._pagination import AsyncPager, Page, SyncPager
from eal_sdk._version import __version__

__all__ = [
    "NOT_GIVEN",
    "AsyncEalClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionFailedError",
    "EalClient",
    "EalError",
    "NotFoundError",
    "NotGiven",
    "Page",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "SyncPager",
    "ValidationFailedError",
    "WebhookVerificationError",
    "__version__",
    "models",
    "webhooks",
]
