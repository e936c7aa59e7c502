"""Sessions: sign in, renew, sign out (here, one other device, or every other device).

The session cookie (signed by Starlette) holds a random key; the database holds its hash. A
session ends when its row goes: every request and every new socket looks it up (server/auth.py),
and an open socket of that session is closed through the broker (close code 4401), on every
process.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from server.auth import SESSION_DAYS, SignedIn, secret_hash
from server.models import Session, User
from server.people import session_ids_of
from server.publisher import Publisher
from server.queries import is_id

KEY_BYTES = 32
EVERY_SOCKET = "*"  # in a "signed_out" notice: every socket of the user, whatever opened it


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


async def renew(signed_in: SignedIn) -> None:
    """Note that a session is in use, at most hourly (a write per hit would cost every hit)."""
    now = datetime.now(UTC)
    if signed_in.renewal_due(now):
        await Session.filter(id=signed_in.session_id).update(last_seen_at=now)


async def end_session(publisher: Publisher, user: User, session_id: str) -> bool:
    """End one of the user's sessions; close its sockets. Return whether there was one."""
    if not is_id(session_id):
        return False
    ended = await Session.filter(id=session_id, user_id=user.id).delete()
    if ended:
        await close_sockets(publisher, user, [session_id])
    return bool(ended)


async def end_other_sessions(publisher: Publisher, user: User, keep: str) -> int:
    """End every session of the user but `keep` (this browser); return how many ended."""
    others = await session_ids_of(user, but=keep)
    if others:
        await Session.filter(id__in=others).delete()
        await close_sockets(publisher, user, others)
    return len(others)


async def close_sockets(publisher: Publisher, user: User, session_ids: list[str]) -> None:
    """Close the user's open sockets of these sessions (or "token:<id>"), on every process."""
    await publisher.notice("user:" + user.id, {"signed_out": ",".join(session_ids)})


async def close_every_socket(publisher: Publisher, user: User) -> None:
    """Close every open socket of the user, on every process: their role or account changed,
    and a socket keeps the rights it opened with (the client reconnects with the new ones)."""
    await close_sockets(publisher, user, [EVERY_SOCKET])
