"""Signed tokens for links in mails and for reply addresses: bound to a purpose, expiring.

A token is readable (base64 JSON) but cannot be forged or moved to another purpose without
the server's SECRET_KEY. Single use is the caller's business: put something into `data` that
the use changes (server/actions/account_mail.py signs a fingerprint of the password hash).
"""

from __future__ import annotations

from collections.abc import Mapping

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer


class BadToken(Exception):
    """Forged, for another purpose, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if not purpose:
        raise ValueError("a token needs a purpose")
    return URLSafeTimedSerializer(secret, salt=f"dreiklang.mail.{purpose}")


def sign(secret: str, purpose: str, data: Mapping[str, str]) -> str:
    """Return a URL-safe token carrying `data` for one purpose, stamped with the time."""
    return str(_serializer(secret, purpose).dumps(dict(data)))


def unsign(secret: str, purpose: str, token: str, max_age_seconds: float | None) -> dict[str, str]:
    """Return the data of a genuine token for this purpose, not older than `max_age_seconds`
    (None: any age); raise BadToken for anything else."""
    serializer = _serializer(secret, purpose)
    try:
        max_age = None if max_age_seconds is None else int(max_age_seconds)
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise BadToken(f"the token {token[:12]!r}… has expired", expired=True) from None
    except BadData:
        raise BadToken(f"the token {token[:12]!r}… is not genuine for {purpose!r}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise BadToken(f"the token {token[:12]!r}… carries no string mapping")
    return data
