"""A JSON API endpoint, declared once: who may call it, what it takes, what it answers.

`@endpoint(...)` wraps a view: it authenticates (bearer token or session), decodes and
type-checks the body into the declared request shape (server/payloads.py), and turns action
errors into the API's one error shape. The declaration is also what the OpenAPI document is
generated from (server/openapi.py): nobody writes the schema by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server import payloads
from server.auth import TOKEN_EXPIRED_KEY
from server.errors import ActionError
from server.models import User
from server.views.common import identify, json_error

BODY_LIMIT_STATUS = 413  # the app refuses a body over 256 KiB before any view runs


@dataclass(frozen=True)
class Param:
    """A path or query parameter."""

    name: str
    where: str  # "path" | "query" | "header"
    schema: dict[str, Any]
    description: str = ""
    required: bool = False  # path parameters always are


@dataclass(frozen=True)
class Link:
    """Where a success leads (OpenAPI links): an operation, by its view's name, and where its
    parameters come from ("$response.body#/thread/id", "$request.path.thread_id")."""

    name: str
    to: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one endpoint."""

    summary: str
    body: type[payloads.In] | None = None
    responses: dict[int, type[payloads.Out] | None] = field(default_factory=dict)
    params: tuple[Param, ...] = ()
    public: bool = False  # callable without signing in
    errors: tuple[int, ...] = (400, 401, 404)
    links: tuple[Link, ...] = ()
    raw_body: str = ""  # the body is a file as is (not JSON): what it is, for the document
    error_texts: dict[int, str] = field(default_factory=dict)  # where a status means more


@dataclass(frozen=True)
class Call:
    """What an endpoint's view gets: the request, the caller, and the decoded body."""

    request: Request
    user: User
    body: Any

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


def json(shape: payloads.Out, status: int = 200) -> Response:
    """Answer with a typed shape as JSON."""
    return Response(payloads.encode(shape), status_code=status, media_type="application/json")


View = Callable[[Call], Awaitable[Response]]
PublicView = Callable[[Request, Any], Awaitable[Response]]


def endpoint(operation: Operation) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """Declare an API endpoint that needs a signed-in caller."""

    def wrap(view: View) -> Callable[[Request], Awaitable[Response]]:
        @wraps(view)
        async def handle(request: Request) -> Response:
            identity = await identify(request)
            if identity is None:
                if request.scope.get(TOKEN_EXPIRED_KEY):
                    return json_error(401, "token_expired", "the token has expired; get a new one")
                return json_error(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
            try:
                body = await _body(request, operation)
                return await view(Call(request, identity.user, body))
            except ActionError as err:
                return json_error(err.status, err.code, err.message)

        handle.operation = operation  # type: ignore[attr-defined]
        return handle

    return wrap


def public_endpoint(
    operation: Operation,
) -> Callable[[PublicView], Callable[[Request], Awaitable[Response]]]:
    """Declare an API endpoint anyone may call (trading a password for a token)."""

    def wrap(view: PublicView) -> Callable[[Request], Awaitable[Response]]:
        @wraps(view)
        async def handle(request: Request) -> Response:
            try:
                return await view(request, await _body(request, operation))
            except ActionError as err:
                return json_error(err.status, err.code, err.message)

        handle.operation = operation  # type: ignore[attr-defined]
        return handle

    return wrap


async def _body(request: Request, operation: Operation) -> Any:
    if operation.body is None:
        return None
    return payloads.decode(await request.body(), operation.body)
