"""Process-wide handles the request layer needs, hung on `app.state.eal`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.requests import Request

from eal.config import Settings
from eal.db.engine import Database
from eal.kit.ratelimit import RateLimiter
from eal.kit.secretbox import SecretBox


@dataclass
class AppState:
    """Everything created once per process and shared by requests."""

    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    secret_box: SecretBox
    http: httpx.AsyncClient


def app_state(request: Request) -> AppState:
    """The AppState of the app serving this request."""
    state: AppState = request.app.state.eal
    return state


async def app_state_dependency(request: Request) -> AppState:
    """`app_state` as a dependency (async, so FastAPI calls it inline, not in a thread)."""
    return app_state(request)
