"""What the app's routes say about a request: its route template and the methods of its path.

FastAPI keeps included routers as routers (the route a request matched knows
its path without the router's prefix), so templates and methods are read from
the app's route contexts, which carry the full path (`/api/v1/leads/{lead_id}`).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Match
from starlette.types import Scope


def allowed_methods(app: Any, scope: Scope) -> str:
    """The `Allow` value for the request's path: the methods of every route on it.

    Each method of a path is a route of its own (GET /webhooks, POST /webhooks),
    and a 405 from the router names only the first. HEAD is answered wherever
    GET is (see the edge middleware).
    """
    methods: set[str] = set()
    if "app_root_path" in scope:
        # Inside a mount, root_path ends with the mount's path: match from the app's root.
        scope = {**scope, "root_path": scope["app_root_path"]}
    for context in iter_route_contexts(app.routes):
        match, _ = context.matches(scope)
        if match is not Match.NONE:
            # A mount (the docs' static files) serves reads only.
            methods |= context.methods or {"GET"}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


class RouteTemplates:
    """The full path template of the route a request matched, looked up in O(1).

    Built on first use: by then every router is included.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, str] | None = None

    def _build(self, app: Any) -> dict[int, str]:
        table: dict[int, str] = {}
        for context in iter_route_contexts(app.routes):
            template = context.path_format or context.path
            if template is None:
                continue
            # The router records the matched route; some routes leave only their
            # endpoint (a mount's endpoint is the app it mounts).
            table.setdefault(id(context.original_route), template)
            endpoint = context.endpoint or getattr(context.original_route, "app", None)
            if endpoint is not None:
                table.setdefault(id(endpoint), template)
        return table

    def of(self, scope: Scope) -> str | None:
        """The template (`/api/v1/leads/{lead_id}`) of the matched route; None if none matched."""
        table = self._by_id
        if table is None:
            app = scope.get("app")
            if app is None:
                return None
            table = self._by_id = self._build(app)
        route = scope.get("route")
        if route is not None and id(route) in table:
            return table[id(route)]
        endpoint = scope.get("endpoint")
        return None if endpoint is None else table.get(id(endpoint))
