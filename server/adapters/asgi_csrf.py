"""Where Dreiklang relies on asgi-csrf's internals (capped in pyproject.toml to 0.11).

asgi-csrf 0.11 finds the token of a multipart form with `FormParser(FileClass=...)`, which
python-multipart 0.0.26 removed; staying below 0.0.26 is no option (that release and later ones
fix denial-of-service holes). Every multipart POST without the token header then crashed the
check: HTTP 500 instead of 403 (upstream: simonw/asgi-csrf#38). asgi-csrf also takes the
boundary by splitting the header at "; boundary=", so `multipart/form-data;boundary=x` (legal)
crashed it too.

`install()` swaps in a token reader written against python-multipart's current API, and
`canonical_content_type()` rewrites a multipart Content-Type into the one spelling asgi-csrf
reads. tests/test_crafted_input.py checks both hooks, so an upgrade that moves them fails loudly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asgi_csrf
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import FormParser, parse_options_header

MULTIPART = b"multipart/form-data"
MAX_SCANNED_BYTES = 256 * 1024  # the app's body limit; a form is far smaller

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def read_multipart_token(boundary: bytes, receive: Receive) -> tuple[str | None, Receive]:
    """Read a multipart body up to its `csrftoken` field; return the token (None: not found,
    or the body is malformed) and a `receive` that replays what was read.

    Raises asgi_csrf.FileBeforeToken when a file comes before the token, as asgi-csrf does.
    """
    messages: list[dict[str, Any]] = []

    async def replay() -> dict[str, Any]:
        return messages.pop(0) if messages else await receive()

    def on_field(field: Any) -> None:
        if field.field_name == b"csrftoken":
            raise asgi_csrf.TokenFound((field.value or b"").decode("utf-8", "replace"))

    def on_file(file: Any) -> None:
        raise asgi_csrf.FileBeforeToken

    if not boundary:
        return None, replay
    scanned = 0
    try:
        parser = FormParser(MULTIPART.decode(), on_field, on_file, boundary=boundary)
        more_body = True
        while more_body and scanned <= MAX_SCANNED_BYTES:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away
            body = message.get("body", b"")
            scanned += len(body)
            parser.write(body)
            more_body = message.get("more_body", False)
        if not more_body:
            parser.finalize()
    except asgi_csrf.TokenFound as found:
        return str(found.args[0]), replay
    except FormParserError:  # not a well-formed multipart body: no token in it
        pass
    return None, replay


def canonical_content_type(scope: dict[str, Any]) -> None:
    """Rewrite a multipart request's Content-Type as `multipart/form-data; boundary=B`, the
    spelling asgi-csrf splits; other requests are left alone."""
    headers = scope.get("headers") or []
    types = [value for name, value in headers if name == b"content-type"]
    # asgi-csrf reads the last one, and takes the multipart branch for exactly this type.
    if not types or types[-1].split(b";", 1)[0] != MULTIPART:
        return
    _, params = parse_options_header(types[-1])
    canonical = MULTIPART + b"; boundary=" + params.get(b"boundary", b"")
    scope["headers"] = [
        (name, canonical if name == b"content-type" else value) for name, value in headers
    ]


def install() -> None:
    """Make asgi-csrf read multipart forms through read_multipart_token (idempotent)."""
    asgi_csrf._parse_multipart_form_data = read_multipart_token
