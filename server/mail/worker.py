"""The mail worker: sends queued mails (server/mail/outbox.py), in every server process.

Each due row is claimed by a conditional UPDATE that moves its `due_at` a lease ahead: only one
process can win it, and a row whose process died before settling it is due again when the
lease ends (a mail may then go twice, never not at all). Temporary failures come back after a
growing backoff, permanent ones are marked failed; both are logged with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from tortoise.expressions import F

from server.mail.sender import PermanentFailure, TemporaryFailure, send, server_of
from server.models import OutboundMail, OutboundMailState
from server.settings import Settings

POLL_SECONDS = 2.0  # a mail queued by an action without a wake-up waits at most this long
LEASE_SECONDS = 300  # longer than a slow SMTP conversation (30 s timeout per step)
BATCH = 20  # due rows looked at per round
MAX_ATTEMPTS = 20  # with the backoff below: about a day of trying before giving up
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1200, 1800, 3600)  # then hourly
KEEP_DAYS = 30  # sent and failed mails are kept this long (what went out, for support)
PRUNE_SECONDS = 3600
# Never copied from a caller's headers: the worker writes these itself.
OWN_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "reply-to", "auto-submitted",
     "mime-version", "content-type", "content-transfer-encoding"}
)  # fmt: skip

log = logging.getLogger(__name__)

Send = Callable[[Settings, EmailMessage, str, str], Awaitable[None]]


def now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """Return how long to wait after the `attempts`-th failed try."""
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


def build_message(settings: Settings, row: OutboundMail) -> EmailMessage:
    """Return the message for a row: the same Message-ID on every attempt."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "dreiklang.invalid"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now())
    message["Message-ID"] = f"<{row.message_id}.{row.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message["X-Auto-Response-Suppress"] = "All"  # the same for Exchange
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    for name, value in (row.headers or {}).items():
        if name.lower() not in OWN_HEADERS:
            message[name] = value
    message.set_content(row.text)
    if row.html:
        message.add_alternative(row.html, subtype="html")
    return message


class MailWorker:
    """Send due mails until stopped; woken at once by `wake()`, else every `poll_seconds`."""

    def __init__(
        self,
        settings: Settings,
        *,
        poll_seconds: float = POLL_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        sender: Send = send,
    ) -> None:
        if settings.mail_enabled:
            server_of(settings.smtp_url)  # a bad SMTP_URL fails at startup, not at the first mail
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.sender = sender
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due mails now (an action just queued one)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mail worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        pruned = 0.0
        while True:
            self._wake.clear()
            try:
                while await self.run_once() >= BATCH:
                    pass  # a full batch: there may be more due
                if asyncio.get_running_loop().time() - pruned > PRUNE_SECONDS:
                    pruned = asyncio.get_running_loop().time()
                    await prune(now() - timedelta(days=KEEP_DAYS))
            except Exception:  # a database outage: try again at the next round
                log.exception("sending queued mail failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Claim and send the due mails of one batch; return how many were due."""
        moment = now()
        due = await (
            OutboundMail.filter(state=OutboundMailState.QUEUED, due_at__lte=moment)
            .order_by("due_at")
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        for mail_id in due:
            if await self._claim(int(mail_id), moment):  # type: ignore[call-overload]
                row = await OutboundMail.get(id=mail_id)
                await self._deliver(row)
        return len(due)

    async def _claim(self, mail_id: int, moment: datetime) -> bool:
        lease = moment + timedelta(seconds=self.lease_seconds)
        won = await OutboundMail.filter(
            id=mail_id, state=OutboundMailState.QUEUED, due_at__lte=moment
        ).update(due_at=lease, attempts=F("attempts") + 1)
        return bool(won)

    async def _deliver(self, row: OutboundMail) -> None:
        message = build_message(self.settings, row)
        sender = parseaddr(self.settings.mail_from)[1]
        try:
            if self.settings.mail_enabled:
                await self.sender(self.settings, message, sender, row.recipient)
            else:
                log.info(
                    "e-mail is not set up (SMTP_URL is empty), so this mail is only logged:\n%s",
                    _as_text(message, row.text),
                )
        except PermanentFailure as err:
            log.warning("mail %s to %r failed for good: %s", row.id, row.recipient, err)
            await self._settle(row, OutboundMailState.FAILED, str(err))
        except Exception as err:  # a temporary failure, or a bug: tried again, up to the cap
            if not isinstance(err, TemporaryFailure):
                log.exception("mail %s to %r could not be sent", row.id, row.recipient)
            if row.attempts >= MAX_ATTEMPTS:
                log.error("mail %s to %r given up after %d attempts: %s",
                          row.id, row.recipient, row.attempts, err)  # fmt: skip
                await self._settle(row, OutboundMailState.FAILED, str(err))
            else:
                log.warning("mail %s to %r not sent (attempt %d), will retry: %s",
                            row.id, row.recipient, row.attempts, err)  # fmt: skip
                await OutboundMail.filter(id=row.id).update(
                    due_at=now() + backoff(row.attempts), outcome=str(err)[:300]
                )
        else:
            await self._settle(row, OutboundMailState.SENT, "")

    async def _settle(self, row: OutboundMail, state: OutboundMailState, outcome: str) -> None:
        sent_at = now() if state == OutboundMailState.SENT else None
        await OutboundMail.filter(id=row.id).update(
            state=state, outcome=outcome[:300], sent_at=sent_at
        )


async def prune(before: datetime) -> int:
    """Delete sent and failed mails queued before a time; return how many."""
    return await OutboundMail.filter(
        state__in=[OutboundMailState.SENT, OutboundMailState.FAILED], created_at__lt=before
    ).delete()


def _as_text(message: EmailMessage, text: str) -> str:
    """Return the headers and the text part, as the log shows a mail not sent."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    return f"{headers}\n\n{text}"
