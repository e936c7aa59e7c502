"""Reply addresses: reply+TOKEN@MAIL_REPLY_DOMAIN, signed for one person and one thread.

A notification mail's Reply-To carries this address; a mail sent back to it posts into that
thread as that person (server/actions/inbound_mail.py). The token must

- fit an RFC 5321 local part (at most 64 characters, with "reply+"),
- survive mail systems that lowercase local parts (so: base32, read case-insensitively),
- be unforgeable: a truncated HMAC-SHA256 keyed from SECRET_KEY with its own purpose string,
  compared in constant time. Changing SECRET_KEY makes every old reply address invalid.

It does not expire: whether the person may still post is checked when the mail arrives.

A staff member's address may be signed as a *note* address (when the mail told them of a staff
note): a reply to it becomes a staff note, so answering a colleague's note by mail never
reaches the customer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from email.utils import parseaddr

from server.settings import Settings

LOCAL_PREFIX = "reply+"
MAX_LOCAL_PART = 64  # RFC 5321 section 4.5.3.1.1
MAC_BYTES = 10  # 80 bits: guessing one by sending mail is hopeless
PURPOSE = b"dreiklang/mail/reply-address/v1"
NOTE_FLAG = 4  # in the flags byte, beside the two "compact id" bits
COMPACT_ID_BYTES = 9  # server/models/ids.py: 12 url-safe characters are 9 bytes
_COMPACT_ID = re.compile(r"[A-Za-z0-9_-]{12}")


def _key(settings: Settings) -> bytes:
    """Derive this purpose's key, so the token is worth nothing to any other signer."""
    return hmac.new(str(settings.secret_key).encode(), PURPOSE, hashlib.sha256).digest()


def _mac(settings: Settings, payload: bytes) -> bytes:
    return hmac.new(_key(settings), payload, hashlib.sha256).digest()[:MAC_BYTES]


def _pack_id(value: str) -> tuple[bool, bytes]:
    """Return (compact, bytes): a new_id() as its 9 bytes, anything else length-prefixed."""
    if _COMPACT_ID.fullmatch(value):
        raw = base64.urlsafe_b64decode(value)
        if base64.urlsafe_b64encode(raw).decode() == value:
            return True, raw
    data = value.encode()
    if not 0 < len(data) < 256:
        raise ValueError(f"id {value!r} cannot go into a reply address")
    return False, bytes([len(data)]) + data


def _unpack_id(compact: bool, data: bytes, at: int) -> tuple[str, int]:
    """Read one id packed by _pack_id from data[at:]; return it and the next offset."""
    if compact:
        raw = data[at : at + COMPACT_ID_BYTES]
        if len(raw) != COMPACT_ID_BYTES:
            raise ValueError("short")
        return base64.urlsafe_b64encode(raw).decode(), at + COMPACT_ID_BYTES
    if at >= len(data):
        raise ValueError("short")
    size = data[at]
    raw = data[at + 1 : at + 1 + size]
    if len(raw) != size:
        raise ValueError("short")
    return raw.decode(), at + 1 + size


def reply_token(settings: Settings, user_id: str, thread_id: str, note: bool = False) -> str:
    """Return the lowercase base32 token signed for this person and thread (and, for a
    staff note's notification, marked so that a reply becomes a staff note)."""
    user_compact, user_data = _pack_id(user_id)
    thread_compact, thread_data = _pack_id(thread_id)
    flags = int(user_compact) | int(thread_compact) << 1 | (NOTE_FLAG if note else 0)
    payload = bytes([flags]) + user_data + thread_data
    token = base64.b32encode(payload + _mac(settings, payload)).decode().rstrip("=")
    return token.lower()


def reply_address(settings: Settings, user_id: str, thread_id: str, note: bool = False) -> str:
    """reply+TOKEN@MAIL_REPLY_DOMAIN signed for this person and thread ("" if no domain);
    `note`: a reply to it becomes a staff note."""
    if not settings.mail_reply_domain:
        return ""
    local = LOCAL_PREFIX + reply_token(settings, user_id, thread_id, note)
    if len(local) > MAX_LOCAL_PART:  # only ids not made by new_id() can be this long
        return ""
    return f"{local}@{settings.mail_reply_domain}"


def read_reply_address(settings: Settings, address: str) -> tuple[str, str] | None:
    """(user_id, thread_id) of a genuine reply address, None for anything else."""
    target = read_reply_target(settings, address)
    return None if target is None else target[:2]


def read_reply_target(settings: Settings, address: str) -> tuple[str, str, bool] | None:
    """(user_id, thread_id, note) of a genuine reply address, None for anything else."""
    domain_wanted = settings.mail_reply_domain
    if not domain_wanted:
        return None
    _, bare = parseaddr(address.strip())
    local, at, domain = bare.rpartition("@")
    if not at or domain.lower().rstrip(".") != domain_wanted:
        return None
    if len(local) > MAX_LOCAL_PART or not local.lower().startswith(LOCAL_PREFIX):
        return None
    token = local[len(LOCAL_PREFIX) :].upper()
    if not token or not token.isascii() or not token.isalnum():
        return None
    try:
        blob = base64.b32decode(token + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        return None
    if base64.b32encode(blob).decode().rstrip("=") != token:  # unused low bits set: not ours
        return None
    payload, mac = blob[:-MAC_BYTES], blob[-MAC_BYTES:]
    if len(payload) < 1 or not hmac.compare_digest(mac, _mac(settings, payload)):
        return None
    flags = payload[0]
    if flags > 3 | NOTE_FLAG:
        return None
    try:
        user_id, at_thread = _unpack_id(bool(flags & 1), payload, 1)
        thread_id, end = _unpack_id(bool(flags & 2), payload, at_thread)
    except (ValueError, UnicodeDecodeError):
        return None
    if end != len(payload):
        return None
    return user_id, thread_id, bool(flags & NOTE_FLAG)
