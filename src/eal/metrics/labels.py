"""Label values shared by the metrics facade and its collectors."""

from __future__ import annotations

UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404s for unknown paths)."""
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted under their own name; any other is counted as `other`."""
