"""GET /: what this service is, and where its documentation and health check live."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from eal import __version__

SERVICE_NAME = "eal"

router = APIRouter(tags=["index"])


class IndexLinks(BaseModel):
    docs: str
    openapi: str
    health: str


class ServiceIndex(BaseModel):
    """The service's name and version, and links to its documentation and health check."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": SERVICE_NAME,
                    "version": __version__,
                    "links": {
                        "docs": "/docs",
                        "openapi": "/openapi.json",
                        "health": "/api/v1/health",
                    },
                }
            ]
        }
    )

    name: str
    version: str
    links: IndexLinks


@router.get("/", response_model=ServiceIndex)
async def index(request: Request) -> ServiceIndex:
    """The service index: open `links.docs` in a browser for the API reference."""
    # Relative to where the service is mounted (a proxy's root_path).
    root = request.scope.get("root_path", "").rstrip("/")
    return ServiceIndex(
        name=SERVICE_NAME,
        version=__version__,
        links=IndexLinks(
            docs=f"{root}/docs",
            openapi=f"{root}{request.app.openapi_url}",
            health=f"{root}/api/v1/health",
        ),
    )
