"""GET /docs: Swagger UI from the service's own assets, under a Content-Security-Policy.

The page loads its script and stylesheet from /docs/assets and runs one inline
script (the Swagger UI set-up). The policy allows exactly that script, by its
SHA-256, and only same-origin resources otherwise, so the page works offline
and nothing injected into it runs or frames it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

# No online validator badge: it would load an image from validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(html: str) -> str:
    """The policy for a docs page: same-origin resources, and its own inline scripts only."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            # Swagger UI sets style attributes on what it renders; styles cannot run code.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def swagger_ui_page(*, title: str, openapi_url: str, assets_url: str) -> HTMLResponse:
    """The Swagger UI page with its CSP and `X-Frame-Options: DENY`."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{assets_url}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets_url}/swagger-ui.css",
        swagger_favicon_url=f"{assets_url}/favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": content_security_policy(html),
            "X-Frame-Options": "DENY",
        },
    )
