"""Uploading photos and files for a message, attaching them when it is sent, and sweeping the
ones never sent.

An upload is stored before its message exists (the browser uploads while the person writes):
a row without a message, seen by its uploader alone. Sending the message attaches it in the
send's own transaction (`attach`); what is never sent is swept after ORPHAN_HOURS.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum

from server import images
from server.actions.sanctions import require_voice
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.files import is_attachment_id
from server.i18n import N_
from server.models import Attachment, AttachmentKind, Message, ThreadStatus, User
from server.payloads import CLIENT_ID_MAX_CHARS
from server.queries import is_id, thread_for
from server.storage import Storage, StorageError
from server.txscript import Script

ORPHAN_HOURS = 24  # an upload whose message was never sent (tab closed, app deleted) goes then
QUOTA_WINDOW = timedelta(hours=24)  # ATTACHMENT_DAILY_MB counts what one uploaded in this window
MB = 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one person may upload (from the settings)."""

    file_bytes: int  # ATTACHMENT_MAX_MB
    daily_bytes: int  # ATTACHMENT_DAILY_MB (0: no limit)

    @classmethod
    def of(cls, max_mb: float, daily_mb: float) -> Limits:
        return cls(int(max_mb * MB), int(daily_mb * MB))


def data_key(attachment_id: str) -> str:
    return f"{attachment_id}/data"


def thumb_key(attachment_id: str) -> str:
    return f"{attachment_id}/thumb"


def keys_of(att: Attachment) -> list[str]:
    """Return the storage keys an attachment has (its thumbnail only if it is an image)."""
    keys = [data_key(att.id)]
    if att.kind == AttachmentKind.IMAGE:
        keys.append(thumb_key(att.id))
    return keys


def clean_upload_id(client_id: object) -> str:
    """Return a valid client-generated upload id (1-64 printable ASCII) or raise."""
    if (
        not isinstance(client_id, str)
        or not 1 <= len(client_id) <= CLIENT_ID_MAX_CHARS
        or not client_id.isascii()
        or not client_id.isprintable()
    ):
        raise ActionError(
            "invalid_client_id",
            N_(
                "X-Client-Id must be 1 to {limit} printable ASCII characters, not {client_id!r:.80}"
            ),
            limit=CLIENT_ID_MAX_CHARS,
            client_id=client_id,
        )
    return client_id


def too_large(name: str, limit: int) -> ActionError:
    return ActionError(
        "too_large", N_("{name!r} is larger than {limit} MB"), name=name, limit=f"{limit / MB:g}"
    )


async def may_upload(uploader: User, thread_id: object) -> None:
    """Refuse an upload for a thread the person may not post in, as sending would."""
    require_voice(uploader)
    thread = await thread_for(uploader, thread_id)
    if thread is None:
        raise NotFound()
    if uploader.is_staff:
        return  # staff may write a staff note in any thread they can see
    if thread.status == ThreadStatus.CLOSED:
        raise Forbidden(N_("this thread is closed"))
    if thread.locked_at is not None and not uploader.moderates:
        raise Forbidden(N_("a moderator locked this thread: no new replies"))


async def uploaded_today(uploader: User, now: datetime) -> int:
    """Return how many bytes the person uploaded in the quota window."""
    rows = (
        await Attachment.filter(uploader_id=uploader.id, created_at__gte=now - QUOTA_WINDOW)
        .annotate(total=Sum("size"))
        .values("total")
    )
    return int(rows[0]["total"] or 0) if rows else 0


async def _check_quota(uploader: User, limits: Limits, size: int, now: datetime) -> None:
    if limits.daily_bytes and await uploaded_today(uploader, now) + size > limits.daily_bytes:
        raise ActionError(
            "quota_exceeded",
            N_("you can upload {limit} MB a day; try again tomorrow"),
            limit=f"{limits.daily_bytes / MB:g}",
        )


async def read_limited(stream: AsyncIterator[bytes], limit: int, name: str) -> bytes:
    """Read a request body up to `limit` bytes; refuse it (too_large) at the first byte more,
    without reading the rest."""
    data = bytearray()
    async for chunk in stream:
        data += chunk
        if len(data) > limit:
            raise too_large(name, limit)
    return bytes(data)


async def upload(
    uploader: User,
    thread_id: object,
    client_id: object,
    name: str,
    body: AsyncIterator[bytes],
    *,
    declared_size: int | None,
    limits: Limits,
    storage: Storage,
    limiter: anyio.CapacityLimiter,
) -> tuple[Attachment, bool]:
    """Store one uploaded file for a thread once per (uploader, client_id); return it and
    whether it is new. Everything is checked before the body is read."""
    if not is_id(thread_id):
        raise NotFound()
    await may_upload(uploader, thread_id)
    cid = clean_upload_id(client_id)
    found = await Attachment.get_or_none(uploader_id=uploader.id, client_id=cid)
    if found is not None:  # a retry: the first upload's answer, without reading the body
        return _same_thread(found, thread_id), False
    images.clean_name(name)  # a bad name is refused before the body is read
    if declared_size is not None and declared_size > limits.file_bytes:
        raise too_large(name, limits.file_bytes)
    now = datetime.now(UTC)
    await _check_quota(uploader, limits, declared_size or 0, now)
    raw = await read_limited(body, limits.file_bytes, name)
    # Decoding and re-encoding a photo takes a CPU for a second: off the event loop, and at
    # most a few at once, so chat stays responsive while photos are processed.
    processed = await anyio.to_thread.run_sync(images.process, raw, name, limiter=limiter)
    del raw
    await _check_quota(uploader, limits, len(processed.data), now)
    att = Attachment(
        uploader_id=uploader.id, thread_id=thread_id, client_id=cid,
        kind=AttachmentKind(processed.kind), content_type=processed.content_type,
        name=processed.name, size=len(processed.data), width=processed.width,
        height=processed.height, placeholder=processed.placeholder, created_at=now,
    )  # fmt: skip
    return await _store(att, processed, storage, uploader, thread_id)


def _same_thread(found: Attachment, thread_id: str) -> Attachment:
    if found.thread_id != thread_id:
        raise Conflict(
            N_("client_id {client_id!r} was already used for another thread"),
            client_id=found.client_id,
        )
    return found


async def _store(
    att: Attachment,
    processed: images.Processed,
    storage: Storage,
    uploader: User,
    thread_id: str,
) -> tuple[Attachment, bool]:
    """Put the bytes, then the row; if anything fails, take back what was put."""
    put: list[str] = []
    try:
        await storage.put(data_key(att.id), processed.data, processed.content_type)
        put.append(data_key(att.id))
        if processed.thumb is not None:
            await storage.put(thumb_key(att.id), processed.thumb, "image/jpeg")
            put.append(thumb_key(att.id))
        await att.save(force_create=True)
    except IntegrityError:
        # The same upload twice at once: the other one won; its row is the answer.
        await storage.delete(put)
        found = await Attachment.get_or_none(uploader_id=uploader.id, client_id=att.client_id)
        if found is None:
            raise
        return _same_thread(found, thread_id), False
    except StorageError as exc:
        log.warning("storing an upload failed: %s", exc)
        await _take_back(storage, put)
        raise ActionError(
            "storage_unavailable", N_("the file could not be stored; try again in a moment")
        ) from exc
    except BaseException:
        await _take_back(storage, put)
        raise
    return att, True


async def _take_back(storage: Storage, keys: list[str]) -> None:
    if not keys:
        return
    with anyio.CancelScope(shield=True):  # also when the request is cancelled midway
        try:
            await storage.delete(keys)
        except Exception:  # what stays behind has no row: nothing shows it; logged
            log.exception("could not delete %r after a failed upload", keys)


# -- attaching, in the send's transaction ------------------------------------------------------


def clean_attachment_ids(ids: object, limit: int) -> list[str]:
    """Return the attachment ids of a send (a list of distinct strings, at most `limit`)."""
    if ids is None:
        return []
    if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
        raise ActionError(
            "invalid_attachments",
            N_("attachments must be a list of attachment ids, not {value!r:.80}"),
            value=ids,
        )
    if len(ids) > limit:
        raise ActionError(
            "too_many_attachments",
            N_("a message can have at most {limit} attachments, not {count}"),
            limit=limit,
            count=len(ids),
        )
    seen: set[str] = set()
    for attachment_id in ids:
        if not is_attachment_id(attachment_id):
            raise AttachmentNotFound()  # no upload has such an id
        if attachment_id in seen:
            raise ActionError(
                "invalid_attachments",
                N_("attachment {id!r:.40} is listed twice"),
                id=attachment_id,
            )
        seen.add(attachment_id)
    return list(ids)


def attach(message: Message, ids: Sequence[str], now: datetime) -> Script[bool]:
    """Attach the sender's unsent uploads for this thread to a new message, in order; False
    (and nothing attached: the caller rolls back) unless every id was one of them."""
    if not ids:
        return True
    cases = " ".join("WHEN ? THEN CAST(? AS INTEGER)" for _ in ids)
    marks = ", ".join("?" for _ in ids)
    positions = [value for i, attachment_id in enumerate(ids) for value in (attachment_id, i)]
    rows = yield (
        f"UPDATE attachments SET message_id = ?, position = CASE id {cases} END, "  # noqa: S608
        f"attached_at = ? WHERE id IN ({marks}) AND uploader_id = ? AND thread_id = ? "
        "AND message_id IS NULL RETURNING id",
        [message.id, *positions, now, *ids, message.author_id, message.thread_id],
    )
    return len(rows) == len(ids)


class AttachmentNotFound(ActionError):
    status = 400

    def __init__(self) -> None:
        super().__init__(
            "attachment_not_found",
            N_("an attachment was not found: upload it again (it must be your own, for this "
               "thread, and not sent yet)"),
        )  # fmt: skip


async def attached_to(message: Message) -> list[Attachment]:
    """Return a sent message's attachments in order."""
    return await Attachment.filter(message_id=message.id).order_by("position")


# -- the sweep -----------------------------------------------------------------------------


SWEEP_BATCH = 500  # rows per round: bounded memory however many piled up


async def sweep(storage: Storage, now: datetime | None = None) -> int:
    """Delete uploads never sent within ORPHAN_HOURS, bytes first; return how many."""
    before = (now or datetime.now(UTC)) - timedelta(hours=ORPHAN_HOURS)
    swept = 0
    while True:
        orphans = await Attachment.filter(message_id__isnull=True, created_at__lt=before).limit(
            SWEEP_BATCH
        )
        if not orphans:
            return swept
        # Bytes first: bytes without a row nobody could find again, so the row goes last.
        await storage.delete([key for att in orphans for key in keys_of(att)])
        await Attachment.filter(id__in=[att.id for att in orphans]).delete()
        swept += len(orphans)
