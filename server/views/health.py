"""Health check for process managers and load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.queries import database_answers


async def healthz(request: Request) -> Response:
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        await database_answers()
    except Exception as err:  # any failure means "not healthy"; say which
        return JSONResponse({"status": "down", "error": type(err).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})
