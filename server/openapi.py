"""The OpenAPI description of the JSON API, served at /api/openapi.json.

Generated, never written by hand: each `/api/` route's view carries its declaration
(server/views/endpoint.py), and the request and response shapes are the msgspec types the
API encodes and decodes with (server/payloads.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server import payloads
from server.views.endpoint import Operation

REF = "#/components/schemas/{name}"
ERROR_TEXTS = {
    400: "Bad input; nothing was written",
    401: "Not signed in (or wrong credentials)",
    403: "Not allowed (the thread is closed, or only its author or staff may)",
    404: "Not found, or not visible to you",
    409: "A client_id used for another thread",
    413: "The request body is over 256 KiB (code too_large)",
    415: "Not a type the server takes",
    503: "Unavailable for a moment: try again",
    429: "Too many attempts: wait a minute",
}
DESCRIPTION = (
    'Threads and messages. Every error is `{"error": {"code", "message"}}`. Live '
    "events: WebSocket /ws, see docs/protocol.md."
)


def operations(routes: list[BaseRoute]) -> list[tuple[str, str, str, Operation]]:
    """Return (path, method, view name, declaration) of every declared API route."""
    found = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        views = getattr(route.endpoint, "views", {})
        for method in sorted((route.methods or set()) - {"HEAD"}):
            view = views.get(method, route.endpoint)
            operation = getattr(view, "operation", None)
            if isinstance(operation, Operation):
                found.append((route.path, method.lower(), view.__name__, operation))
    return found


def _content(shape: type[Any], description: str) -> dict[str, Any]:
    ref = {"$ref": REF.format(name=shape.__name__)}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def build(routes: list[BaseRoute]) -> dict[str, Any]:
    """Generate the OpenAPI 3.1 document of the declared API routes."""
    declared = operations(routes)
    shapes: set[type[Any]] = {payloads.Error}
    paths: dict[str, dict[str, Any]] = {}
    known = {name for _, _, name, _ in declared}
    for path, method, name, op in declared:
        spec: dict[str, Any] = {"operationId": name, "summary": op.summary, "responses": {}}
        if op.public:
            spec["security"] = []
        item = paths.setdefault(path, {})
        for param in op.params:
            described: dict[str, Any] = {
                "name": param.name,
                "in": param.where,
                "required": param.where == "path" or param.required,
                "schema": param.schema,
            }
            if param.description:
                described["description"] = param.description
            # Path parameters belong to the path (every method has them), the rest to one.
            where = item if param.where == "path" else spec
            if described not in where.setdefault("parameters", []):
                where["parameters"].append(described)
        if op.body is not None:
            shapes.add(op.body)
            spec["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(name=op.body.__name__)}}
                },
            }
        if op.raw_body:
            spec["requestBody"] = {
                "required": True,
                "description": op.raw_body,
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        for status, shape in op.responses.items():
            if shape is None:
                spec["responses"][str(status)] = {"description": "Done, nothing to say"}
            else:
                shapes.add(shape)
                spec["responses"][str(status)] = _content(shape, "OK")
            if op.links and status < 300:
                for link in op.links:
                    if link.to not in known:
                        raise ValueError(f"{name}: link {link.name!r} to unknown {link.to!r}")
                spec["responses"][str(status)]["links"] = {
                    link.name: {"operationId": link.to, "parameters": dict(link.parameters)}
                    for link in op.links
                }
        for status in op.errors:
            text = op.error_texts.get(status) or ERROR_TEXTS[status]
            spec["responses"][str(status)] = _content(payloads.Error, text)
        item[method] = spec
    _, components = msgspec.json.schema_components(
        sorted(shapes, key=lambda s: s.__name__), ref_template=REF
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dreiklang API", "version": "1", "description": DESCRIPTION},
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        },
        "security": [{"token": []}],
        "paths": paths,
    }


async def openapi_schema(request: Request) -> Response:
    """Serve the document of this app's routes (generated once per app)."""
    state = request.app.state
    if getattr(state, "openapi", None) is None:
        state.openapi = build(request.app.routes)
    return JSONResponse(state.openapi)
