"""A real local SMTP server for tests (aiosmtpd), receiving what Dreiklang sends.

It listens on 127.0.0.1 on a free port in a thread of its own, so the app in the test process
and a live server subprocess alike can reach it (`server.url`, for SMTP_URL). Every message is
kept as a stdlib `email.message.EmailMessage`, read as a mail client would; tests wait for the
next one to an address. It can refuse the next mails with any reply (`fail_next(451)`: try
again later; `fail_next(550)`: refused for good) and require AUTH (`MailServer(auth=...)`).

Use it as a fixture by importing it into a test module (`from tests.mailserver import
mail_server`), or as `with MailServer() as server:`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

HOST = "127.0.0.1"
WAIT_SECONDS = 15.0  # a mail the worker sends at once arrives well within this
LINK_RE = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Received:
    """One mail as delivered: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.server.lock:
            if self.server.failures:
                return self.server.failures.pop(0)
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), message, raw)
        transport = smtp.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        with self.server.changed:
            self.server.tls_sessions += encrypted
            self.server.received.append(received)
            self.server.changed.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # "Requiring AUTH while not requiring TLS": on 127.0.0.1 only, in tests.
            warnings.simplefilter("ignore", UserWarning)
            smtp: SMTP = super().factory()  # type: ignore[no-untyped-call]
            return smtp


def self_signed(folder: Path) -> Path:
    """Write a certificate and key for 127.0.0.1 into one PEM file; return its path (a client
    trusts it through SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address(HOST))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "mailserver.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


class MailServer:
    """A local SMTP server that keeps every message it receives.

    `tls`: "" (plain), "starttls" (offers and requires STARTTLS) or "implicit" (TLS from the
    first byte, smtps://), with a self-signed certificate written to `cert_dir`."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls: str = "",
        cert_dir: Path | None = None,
    ) -> None:
        if tls not in ("", "starttls", "implicit") or (tls and cert_dir is None):
            raise ValueError(f"tls is '', 'starttls' or 'implicit' with a cert_dir, not {tls!r}")
        self.port = free_port()
        self.auth = auth
        self.tls = tls
        self.cert = self_signed(cert_dir) if cert_dir is not None and tls else None
        self.tls_sessions = 0  # messages that arrived over TLS
        self.received: list[Received] = []
        self.failures: list[str] = []  # replies to the next DATA commands, in order
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"{'smtps' if self.tls == 'implicit' else 'smtp'}://{HOST}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        assert self.cert is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert)
        return context

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.auth
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            kwargs = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # on 127.0.0.1 only
            }
        if self.tls == "starttls":
            kwargs.update(tls_context=self._context(), require_starttls=True)
        elif self.tls == "implicit":
            kwargs.update(ssl_context=self._context())
        self._controller = _Controller(_Handler(self), hostname=HOST, port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, code: int, text: str = "", count: int = 1) -> None:
        """Answer the next `count` messages with this reply instead of accepting them."""
        reply = f"{code} {text or ('Try again later' if code < 500 else 'Refused')}"
        with self.lock:
            self.failures.extend([reply] * count)

    def to(self, address: str) -> list[EmailMessage]:
        """Return every message received for an address so far, oldest first."""
        with self.lock:
            return [r.message for r in self.received if address.lower() in _lower(r.rcpt_tos)]

    def wait_for_mail_to(
        self, address: str, *, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> EmailMessage:
        """Block until `count` messages reached an address; return the last of them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [r.message for r in self.received if address.lower() in _lower(r.rcpt_tos)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no mail number {count} to {address!r} within {timeout} s "
                        f"(got {len(found)}; all: {[r.rcpt_tos for r in self.received]})"
                    )
                self.changed.wait(left)

    async def mail_to(
        self, address: str, *, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> EmailMessage:
        """Wait without blocking the event loop (the worker may run on it) for a mail."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.wait_for_mail_to(address, count=count, timeout=0.001)


def _lower(addresses: tuple[str, ...]) -> list[str]:
    return [a.lower() for a in addresses]


def text_of(message: EmailMessage) -> str:
    """Return the text/plain part as a mail client shows it."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"no text part in {message['Subject']!r}"
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    """Return the text/html part."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, f"no HTML part in {message['Subject']!r}"
    return str(part.get_content())


def link_in(message: EmailMessage, contains: str = "") -> str:
    """Return the first link in the text part (containing `contains`)."""
    for link in LINK_RE.findall(text_of(message)):
        if contains in link:
            return str(link)
    raise AssertionError(f"no link with {contains!r} in {text_of(message)!r}")


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A real SMTP server on a free port for one test."""
    with MailServer() as server:
        yield server
