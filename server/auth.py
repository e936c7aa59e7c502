"""Who is asking: password hashing, API tokens, and the session a cookie names (reads only;
starting, renewing and ending sessions are actions, server/actions/sessions.py)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import HTTPConnection

from server.models import User
from server.people import live_session, token_holder

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
PASSWORD_MIN_CHARS = 10  # NIST 800-63B asks for at least 8; we add a little headroom
SESSION_DAYS = 30  # a field technician should not sign in again every week
SEEN_EVERY = timedelta(hours=1)  # how stale last_seen_at may get: one write per hour, not per hit
SESSION_SCOPE_KEY = "dreiklang.session"  # where a request keeps its looked-up session
TOKEN_SCOPE_KEY = "dreiklang.token"  # noqa: S105 - where a request keeps its token's id
TOKEN_USE_KEY = "dreiklang.token_use"  # noqa: S105 - ... and the token's TokenUse
TOKEN_EXPIRED_KEY = "dreiklang.token_expired"  # noqa: S105 - set when it sent an expired one
TOKEN_DAYS_MAX = 3650  # ten years; a token meant to live longer carries no expiry at all
TOKEN_USE_EVERY = timedelta(minutes=1)  # how stale a token's last use may get: a write a minute
TOKEN_PREFIX = "dk_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session cookie belongs to, which session it is, and when it was last used."""

    user: User
    session_id: str
    last_seen_at: datetime

    def renewal_due(self, now: datetime) -> bool:
        return now - self.last_seen_at > SEEN_EVERY


@dataclass(frozen=True, slots=True)
class TokenUse:
    """Which API token a request carries, and when its use was last noted."""

    token_id: int
    last_used_at: datetime | None

    def note_due(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at > TOKEN_USE_EVERY


def secret_hash(secret: str) -> str:
    """Hash a cookie's key or an API token for storage (a leaked table signs nobody in)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the e-mail is unknown, so timing does not reveal
    accounts (made on first use: hashing on purpose takes a tenth of a second)."""
    return _hasher.hash("not a real password")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password in constant-ish time, also for unknown accounts."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """Return a fresh API token and the hash we store for it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, secret_hash(token)


async def session_of(key: object) -> SignedIn | None:
    """Return the live session a cookie's key names (idle for under SESSION_DAYS, of an
    account that is not deactivated)."""
    if not isinstance(key, str) or not key:
        return None
    since = datetime.now(UTC) - timedelta(days=SESSION_DAYS)
    session = await live_session(secret_hash(key), since)
    if session is None:
        return None
    return SignedIn(session.user, session.id, session.last_seen_at)


async def user_from_connection(conn: HTTPConnection) -> User | None:
    """Return the signed-in user of a request or socket: bearer token first, then session."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = await token_holder(secret_hash(header[7:].strip()))
        if found is None:
            return None
        if found.expires_at is not None and found.expires_at <= datetime.now(UTC):
            conn.scope[TOKEN_EXPIRED_KEY] = True  # the API says so (`token_expired`)
            return None
        conn.scope[TOKEN_SCOPE_KEY] = found.id  # its sockets close when it is revoked
        conn.scope[TOKEN_USE_KEY] = TokenUse(found.id, found.last_used_at)
        return found.user
    signed_in = await signed_in_session(conn)
    return signed_in.user if signed_in is not None else None


async def signed_in_session(conn: HTTPConnection) -> SignedIn | None:
    """Return the live session of a request's or socket's cookie (cached per request)."""
    if "session" not in conn.scope:
        return None
    if SESSION_SCOPE_KEY not in conn.scope:
        conn.scope[SESSION_SCOPE_KEY] = await session_of(conn.session.get("key"))
    found: SignedIn | None = conn.scope[SESSION_SCOPE_KEY]
    return found


def uses_token(conn: HTTPConnection) -> bool:
    return conn.headers.get("authorization", "").lower().startswith("bearer ")
