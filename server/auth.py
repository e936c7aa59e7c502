"""Who is asking: password hashing, sessions, API tokens."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import HTTPConnection

from server.actions.sessions import SignedIn, secret_hash, session_of
from server.models import ApiToken, User

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A fixed hash to verify against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not a real password")
PASSWORD_MIN_CHARS = 10  # NIST 800-63B asks for at least 8; we add a little headroom
SESSION_SCOPE_KEY = "dreiklang.session"  # where a request keeps its looked-up session
TOKEN_SCOPE_KEY = "dreiklang.token"  # noqa: S105 - where a request keeps its token's id
TOKEN_PREFIX = "dk_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password in constant-ish time, also for unknown accounts."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """Return a fresh API token and the hash we store for it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, secret_hash(token)


async def user_from_connection(conn: HTTPConnection) -> User | None:
    """Return the signed-in user of a request or socket: bearer token first, then session."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        found = await ApiToken.get_or_none(token_hash=secret_hash(token)).prefetch_related("user")
        if found is None:
            return None
        conn.scope[TOKEN_SCOPE_KEY] = found.id  # its sockets close when it is revoked
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
