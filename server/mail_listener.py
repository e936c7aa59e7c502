"""The inbound mail listener: SMTP (or LMTP behind a mail server) on MAIL_LISTEN, in the app's
own event loop, feeding server/actions/inbound_mail.py. The only importer of aiosmtpd.

It accepts only what is ours at RCPT time — genuine reply addresses and the support address —
so it is no open relay, and mail to any other address gets 550 before its data is sent (no
bounces of our own to forged senders: backscatter). A mail over MAIL_MAX_MB gets 552 (SIZE is
announced). A database outage gets 451: the sending server tries again later.

Several server processes on one host may share MAIL_LISTEN (SO_REUSEPORT). Failure outcomes:
a port taken by another program fails the app's start (as a bad BROKER_URL does); a mail the
actions cannot handle is logged and answered 451.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from server.actions.inbound_mail import Outcome, Received, is_ours, max_bytes, receive_mail
from server.publisher import Publisher
from server.settings import Settings
from server.storage import Storage

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20  # a reply has one; more is someone trying addresses
TIMEOUT_SECONDS = 60  # a silent client is dropped (aiosmtpd's default is 5 minutes)


def split_listen(value: str) -> tuple[str, int]:
    """Parse MAIL_LISTEN: "host:port" or "[v6 address]:port"."""
    host, colon, port = value.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"MAIL_LISTEN must be host:port, not {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - told to listen everywhere


def smtp_reply(received: Received) -> str:
    """Map what became of a mail to an SMTP reply line."""
    if received.outcome == Outcome.TOO_LARGE:
        return f"552 5.3.4 {_line(received.reason)}"
    if received.outcome == Outcome.REFUSED:
        return f"550 5.7.1 {_line(received.reason)}"
    if received.outcome == Outcome.DEFERRED:
        return f"451 4.7.1 {_line(received.reason)}"
    if received.outcome == Outcome.IGNORED:
        return "250 2.6.0 Accepted (automatic mail: nothing done)"
    return "250 2.6.0 Accepted"


def _line(reason: str) -> str:
    """One safe line: a reason may carry an address the sender chose."""
    text = " ".join(reason.split())
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in text)[:200]


class Handler:
    """aiosmtpd's hooks: RCPT filters recipients, DATA hands the mail to the actions."""

    def __init__(
        self, settings: Settings, publisher: Publisher, storage: Storage | None, lmtp: bool
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.storage = storage
        self.lmtp = lmtp

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        if not is_ours(self.settings, address):
            return f"550 5.1.1 <{_line(address)[:100]}>: no such address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        # LMTP answers once per recipient (RFC 2033); SMTP once for the mail.
        groups = [[r] for r in envelope.rcpt_tos] if self.lmtp else [envelope.rcpt_tos]
        lines = []
        for recipients in groups:
            try:
                received = await receive_mail(
                    self.settings, self.publisher, raw, sender, recipients, storage=self.storage
                )
            except Exception:
                log.exception("an inbound mail from %r could not be handled", sender)
                lines.append("451 4.3.0 Temporary failure: try again later")
                continue
            if received.outcome == Outcome.REFUSED:
                log.info("refused a mail from %r: %s", sender, received.reason)
            lines.append(smtp_reply(received))
        return "\r\n".join(lines)


class MailListener:
    """The running listener; `close()` stops it and drops open sessions."""

    def __init__(self, server: asyncio.Server, sessions: list[SMTP]) -> None:
        self.server = server
        self.sessions = sessions

    @property
    def port(self) -> int:
        """Return the port it listens on (the one chosen for port 0)."""
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for session in self.sessions:
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()


async def open_listener(
    settings: Settings, publisher: Publisher, storage: Storage | None = None
) -> MailListener | None:
    """Listen for mail on MAIL_LISTEN in this event loop (None if MAIL_LISTEN is empty).
    With `storage`, photos and files of replies are stored as attachments."""
    if not settings.mail_listen:
        return None
    host, port = split_listen(settings.mail_listen)
    loop = asyncio.get_running_loop()
    handler = Handler(settings, publisher, storage, settings.mail_lmtp)
    kind = LMTP if settings.mail_lmtp else SMTP
    limit = max_bytes(settings) or None  # MAIL_MAX_MB=0: no limit
    sessions: list[SMTP] = []

    def factory() -> SMTP:
        for old in [s for s in sessions if s.transport is not None and s.transport.is_closing()]:
            sessions.remove(old)
        session = kind(
            handler,
            data_size_limit=limit,
            enable_SMTPUTF8=True,
            hostname=settings.mail_reply_domain or "localhost",
            timeout=TIMEOUT_SECONDS,
            loop=loop,
        )
        sessions.append(session)
        return session

    # Several server processes on one host may all listen on MAIL_LISTEN: the kernel shares
    # the connections out (SO_REUSEPORT, where the platform has it).
    reuse = hasattr(socket, "SO_REUSEPORT")
    server = await loop.create_server(factory, host=host, port=port, reuse_port=reuse or None)
    listener = MailListener(server, sessions)
    log.info("listening for %s on %s:%d", kind.__name__, host, listener.port)
    return listener
