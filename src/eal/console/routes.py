"""Every console route, and its static files, for the app to mount."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from eal.console import (
    audit_pages,
    calls_pages,
    claims_pages,
    content_pages,
    leads_pages,
    org_settings,
    outreach_pages,
    pages,
    settings_pages,
)
from eal.console.web import HERE

router = APIRouter()
router.include_router(pages.router)
router.include_router(calls_pages.router)
router.include_router(leads_pages.router)
router.include_router(claims_pages.router)
router.include_router(content_pages.router)
router.include_router(outreach_pages.router)
router.include_router(audit_pages.router)
router.include_router(settings_pages.router)
router.include_router(org_settings.router)

#: The console's vendored scripts and styles, mounted at `web.STATIC_PREFIX`.
static = StaticFiles(directory=HERE / "static")
