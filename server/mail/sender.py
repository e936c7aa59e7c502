"""SMTP out, through aiosmtplib (the only module that imports it).

Outcomes: a mail is accepted (returns), refused for good (`PermanentFailure`: a 5xx reply,
such as an unknown recipient or a message the server will not take), or not delivered now
(`TemporaryFailure`: a 4xx reply, the server unreachable, a timeout, a TLS or login problem
the operator can fix); the worker retries temporary failures with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from server.settings import Settings

SMTP_TIMEOUT_SECONDS = 30.0  # a server that has not answered by then is as good as down
PORTS = {"smtp": 587, "smtps": 465}  # submission with STARTTLS, submission over TLS


class TemporaryFailure(Exception):
    """Not delivered now; worth trying again later."""


class PermanentFailure(Exception):
    """Refused for good: trying again would get the same answer."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    implicit_tls: bool


def server_of(url: str) -> Server:
    """Read SMTP_URL: smtp://host[:port] (STARTTLS when offered) or smtps://host[:port]."""
    parts = urlsplit(url)
    if parts.scheme not in PORTS or not parts.hostname:
        raise ValueError(f"SMTP_URL must be smtp://host:port or smtps://host:port, not {url!r}")
    try:
        port = parts.port or PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"SMTP_URL has no valid port: {url!r}") from None
    return Server(unquote(parts.hostname), port, parts.scheme == "smtps")


async def send(settings: Settings, message: EmailMessage, sender: str, recipient: str) -> None:
    """Hand one message to the configured SMTP server for one recipient."""
    server = server_of(settings.smtp_url)
    try:
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=[recipient],
            hostname=server.host,
            port=server.port,
            use_tls=server.implicit_tls,
            start_tls=None if not server.implicit_tls else False,  # None: when offered
            username=settings.smtp_user or None,
            password=str(settings.smtp_password) if settings.smtp_user else None,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    except aiosmtplib.SMTPRecipientsRefused as err:
        codes = [e.code for e in err.recipients]
        text = "; ".join(f"{e.code} {e.message}" for e in err.recipients)
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentFailure(f"{recipient!r} refused: {text}") from None
        raise TemporaryFailure(f"{recipient!r} not accepted now: {text}") from None
    except aiosmtplib.SMTPAuthenticationError as err:
        # Wrong SMTP_USER / SMTP_PASSWORD: the operator fixes it, the mail waits.
        raise TemporaryFailure(f"login as {settings.smtp_user!r} refused: {err}") from None
    except aiosmtplib.SMTPResponseException as err:
        if 500 <= err.code < 600:
            raise PermanentFailure(f"refused with {err.code} {err.message}") from None
        raise TemporaryFailure(f"not accepted now: {err.code} {err.message}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
        where = f"{server.host}:{server.port}"
        raise TemporaryFailure(f"{where} unreachable: {type(err).__name__}: {err}") from None
