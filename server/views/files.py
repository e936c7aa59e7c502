"""Uploading an attachment (raw body, not multipart) and serving it to those who may see it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from server import payloads as p
from server.actions.attachments import Limits, data_key, thumb_key, upload
from server.errors import ActionError, NotFound
from server.files import attachment_for
from server.i18n import N_
from server.models import Attachment, AttachmentKind
from server.settings import Settings
from server.storage import Storage
from server.views.common import error_page, identify, json_error
from server.views.endpoint import Call, Operation, Param, endpoint, json

UPLOAD_ROUTE_MAX_BYTES = 1 << 40  # the route's own limit; ATTACHMENT_MAX_MB is checked as read
# HTTP status of an upload refused for these reasons (others: the error's own, mostly 400).
UPLOAD_STATUS = {
    "unsupported_type": 415,
    "too_large": 413,
    "quota_exceeded": 413,
    "storage_unavailable": 503,
}
THUMB_CACHE = "private, max-age=2592000, immutable"  # 30 days: an id never changes content
# Revalidated on every use (a 304 by ETag), so a file hidden later stops being shown.
ORIGINAL_CACHE = "private, no-cache"
FILE_CSP = "sandbox; default-src 'none'"  # nothing uploaded runs as a page, even if opened
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = (-1, -1)  # a range that starts past the end: 416


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


@endpoint(
    Operation(
        "Upload a photo or file for a message you are writing (idempotent by X-Client-Id: a "
        "retry answers 200 with the stored one); send its id in the message's attachments",
        responses={201: p.AttachmentOne, 200: p.AttachmentOne},
        params=(
            Param("thread_id", "path", {"type": "string"}),
            Param(
                "X-File-Name",
                "header",
                {"type": "string", "minLength": 1},
                "the file's name, percent-encoded UTF-8",
                required=True,
            ),
            Param(
                "X-Client-Id",
                "header",
                {"type": "string", "minLength": 1, "maxLength": 64},
                "your id for this file, 1 to 64 printable ASCII characters; a retry with it "
                "is stored once",
                required=True,
            ),
        ),  # fmt: skip
        errors=(400, 401, 403, 404, 409, 413, 415, 503),
        raw_body="The file's bytes as they are (not multipart), at most ATTACHMENT_MAX_MB",
        error_texts={
            400: "Bad input, nothing stored: empty_file, bad_name, not_an_image, "
            "image_too_large, invalid_client_id",
            413: "too_large (over ATTACHMENT_MAX_MB) or quota_exceeded (ATTACHMENT_DAILY_MB)",
            415: "unsupported_type: the message lists what is allowed",
            503: "storage_unavailable: try again",
        },
    )
)
async def upload_attachment(call: Call) -> Response:
    """Store the request body as an attachment for the thread (201; a retry: 200)."""
    request = call.request
    settings: Settings = request.app.state.settings
    length = request.headers.get("content-length", "")
    try:
        att, created = await upload(
            call.user,
            call.path("thread_id"),
            request.headers.get("x-client-id"),
            file_name(request.headers.get("x-file-name", "")),
            request.stream(),
            declared_size=int(length) if length.isascii() and length.isdigit() else None,
            limits=Limits.of(settings.attachment_max_mb, settings.attachment_daily_mb),
            storage=storage_of(request),
            limiter=request.app.state.image_limiter,
        )
    except ActionError as err:
        return json_error(UPLOAD_STATUS.get(err.code, err.status), err.code, err.message)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody reads it: the client went away mid-body
    return json(p.AttachmentOne(p.attachment_of(att)), 201 if created else 200)


def file_name(header: str) -> str:
    """Decode X-File-Name (percent-encoded UTF-8); bytes that are no UTF-8 fail the name check."""
    try:
        return unquote(header, errors="strict")
    except UnicodeDecodeError:
        return "\x00"  # refused by images.clean_name as a control character: bad_name


async def serve_file(request: Request) -> Response:
    return await _serve(request, thumb=False)


async def serve_thumb(request: Request) -> Response:
    return await _serve(request, thumb=True)


async def _serve(request: Request, *, thumb: bool) -> Response:
    identity = await identify(request)
    user = identity.user if identity is not None else None
    att = await attachment_for(user, request.path_params["attachment_id"])
    if att is None or (thumb and att.kind != AttachmentKind.IMAGE):
        return error_page(request, user, NotFound(N_("file not found")))
    etag = f'"{att.id}{"-t" if thumb else ""}"'
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cache-Control": THUMB_CACHE if thumb else ORIGINAL_CACHE,
        "Content-Disposition": disposition(att),
        "Vary": "Cookie, Authorization",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if thumb:
        return await _stream(request, thumb_key(att.id), "image/jpeg", 200, headers)
    headers["Accept-Ranges"] = "bytes"
    wanted = byte_range(request.headers.get("range", ""), att.size)
    if wanted is None:  # no Range, or one we answer whole (several ranges, other units)
        headers["Content-Length"] = str(att.size)
        return await _stream(request, data_key(att.id), att.content_type, 200, headers)
    if wanted == UNSATISFIABLE:
        return Response(
            status_code=416, headers={**headers, "Content-Range": f"bytes */{att.size}"}
        )
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{att.size}"
    headers["Content-Length"] = str(end - start)
    return await _stream(request, data_key(att.id), att.content_type, 206, headers, start, end)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse a single-range Range header into [start, end), UNSATISFIABLE, or None to answer
    with the whole file."""
    found = RANGE_RE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size
    start = int(first)
    if start >= size:
        return UNSATISFIABLE
    end = size if not last else min(size, int(last) + 1)
    if end <= start:
        return None  # last before first: invalid, so the header is ignored (RFC 9110)
    return start, end


async def _stream(
    request: Request,
    key: str,
    content_type: str,
    status: int,
    headers: dict[str, str],
    start: int = 0,
    end: int | None = None,
) -> Response:
    chunks = storage_of(request).read(key, start, end)
    try:
        first = await anext(chunks, b"")
    except FileNotFoundError:  # a row whose bytes are gone (swept, or lost): as if none
        return error_page(request, None, NotFound(N_("file not found")))

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=content_type)


def disposition(att: Attachment) -> str:
    """Inline for photos (shown in the viewer), a download for files; the name in RFC 5987
    form, with a plain ASCII fallback for old clients."""
    kind = "inline" if att.kind == AttachmentKind.IMAGE else "attachment"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in att.name)  # fmt: skip
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(att.name, safe='')}"
