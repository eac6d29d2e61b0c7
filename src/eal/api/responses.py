"""JSON responses rendered with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response


class FastJSONResponse(JSONResponse):
    """`application/json` rendered with orjson (UUIDs and datetimes supported)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def model_response(model: BaseModel, *, status_code: int = 200) -> Response:
    """A response whose body is `model` rendered by its own schema, in one pass.

    Returning the model itself would have FastAPI dump it and validate the
    dump against the response model again; for a model the service just built
    from typed values, that second pass is work without a purpose.
    """
    return Response(
        content=type(model).__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
    )
