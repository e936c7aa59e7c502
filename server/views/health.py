"""Health check for process managers and load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.queries import database_answers


async def healthz(request: Request) -> Response:
    """Answer 200 when the database answers, 503 otherwise; "degraded" (still 200) while the
    broker is away: the process serves, and delivers live events through the database."""
    try:
        await database_answers()
    except Exception as err:  # any failure means "not healthy"; say which
        return JSONResponse({"status": "down", "error": type(err).__name__}, status_code=503)
    fanout = getattr(request.app.state, "fanout", None)
    problem = fanout.broker.problem if fanout is not None else None
    if problem is not None:
        reason = f"broker: {problem}; live events arrive through the database within seconds"
        return JSONResponse({"status": "degraded", "reason": reason})
    return JSONResponse({"status": "ok"})
