"""Sessions: sign in, sign out (here, one other device, or every other device).

The session cookie (signed by Starlette) holds a random key; the database holds its hash. A
session ends when its row goes: every request and every new socket looks it up, and an open
socket of that session is closed through the broker (close code 4401), on every process.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from server.actions.publishing import publish_frames
from server.models import Session, User

SESSION_DAYS = 30  # a field technician should not sign in again every week
SEEN_EVERY = timedelta(hours=1)  # how stale last_seen_at may get: one write per hour, not per hit
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session cookie belongs to, and which session it is."""

    user: User
    session_id: str


def secret_hash(secret: str) -> str:
    """Hash a cookie's key or an API token for storage (a leaked table signs nobody in)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@lru_cache(maxsize=1024)
def device_label(user_agent: str) -> str:
    """Name a browser as people do ("Chrome Mobile on Android"); "" if it cannot be told."""
    from ua_parser import parse  # loads its rules on first use (~0.1 s), not at import

    found = parse(user_agent[:500])
    browser = found.user_agent.family if found.user_agent else ""
    system = found.os.family if found.os else ""
    if browser in ("", "Other"):
        return ""
    return f"{browser} on {system}"[:80] if system not in ("", "Other") else browser[:80]


async def start_session(user: User, user_agent: str) -> str:
    """Open a session for a user who just proved who they are; return the cookie's key."""
    now = datetime.now(UTC)
    await Session.filter(last_seen_at__lt=now - timedelta(days=SESSION_DAYS)).delete()
    key = secrets.token_urlsafe(KEY_BYTES)
    await Session.create(
        user=user, key_hash=secret_hash(key), device=device_label(user_agent), last_seen_at=now
    )
    return key


async def session_of(key: object) -> SignedIn | None:
    """Return the live session a cookie's key names, renewing it at most hourly."""
    if not isinstance(key, str) or not key:
        return None
    now = datetime.now(UTC)
    session = (
        await Session.filter(
            key_hash=secret_hash(key), last_seen_at__gte=now - timedelta(days=SESSION_DAYS)
        )
        .select_related("user")
        .first()
    )
    if session is None:
        return None
    if now - session.last_seen_at > SEEN_EVERY:
        await Session.filter(id=session.id).update(last_seen_at=now)
        session.last_seen_at = now
    return SignedIn(session.user, session.id)


async def end_session(user: User, session_id: str) -> bool:
    """End one of the user's sessions; close its sockets. Return whether there was one."""
    ended = await Session.filter(id=session_id, user_id=user.id).delete()
    if ended:
        await close_sockets(user, [session_id])
    return bool(ended)


async def end_other_sessions(user: User, keep: str) -> int:
    """End every session of the user but `keep` (this browser); return how many ended."""
    others = await Session.filter(user_id=user.id).exclude(id=keep).values_list("id", flat=True)
    if others:
        await Session.filter(id__in=others).delete()
        await close_sockets(user, [str(i) for i in others])
    return len(others)


async def sessions_of(user: User) -> list[Session]:
    """The user's live sessions, the most recently used first."""
    since = datetime.now(UTC) - timedelta(days=SESSION_DAYS)
    return await Session.filter(user_id=user.id, last_seen_at__gte=since).order_by(
        "-last_seen_at", "-created_at"
    )


async def close_sockets(user: User, session_ids: list[str]) -> None:
    """Close the user's open sockets of these sessions (or "token:<id>"), on every process."""
    await publish_frames("user:" + user.id, {"signed_out": ",".join(session_ids)})
