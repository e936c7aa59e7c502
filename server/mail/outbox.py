"""The outbox: a mail to send is a row, stored once per key, sent later by the mail worker."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection

from server.adapters.tortoise import insert
from server.models import OutboundMail
from server.txscript import dialect_sql

KEY_MAX_CHARS = 200  # the column's width; longer keys are refused, not cut (two could collide)


@dataclass(frozen=True)
class Mail:
    to: str  # one address
    subject: str
    text: str  # the text/plain part
    html: str = ""  # the text/html part ("" = plain text only)
    reply_to: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # List-Unsubscribe, ...


async def queue_mail(mail: Mail, key: str, *, conn: BaseDBAsyncClient | None = None) -> bool:
    """Store a mail to send, once per key (the same key again stores nothing); True if new.
    Call it inside the action's transaction or after commit; a worker sends it later, retries
    with backoff, never twice. Every mail goes out with Auto-Submitted: auto-generated."""
    if not key or len(key) > KEY_MAX_CHARS:
        raise ValueError(f"a mail key has 1 to {KEY_MAX_CHARS} characters, not {key!r:.240}")
    if not mail.to or "\n" in mail.to or "\r" in mail.to:
        raise ValueError(f"not one address: {mail.to!r:.300}")
    row = OutboundMail(
        key=key,
        recipient=mail.to,
        subject=" ".join(mail.subject.split())[:300],  # one line: a header
        text=mail.text,
        html=mail.html,
        reply_to=mail.reply_to,
        headers=dict(mail.headers),
        message_id=secrets.token_hex(12),  # the local part; the worker adds MAIL_FROM's domain
        due_at=datetime.now(UTC),
    )
    # ON CONFLICT DO NOTHING, not "create and catch": a failed INSERT would abort the
    # caller's PostgreSQL transaction.
    connection = conn or get_connection("default")  # the open transaction, if any
    sql, params = insert(row, on_conflict=('"key"',), returning="id")
    rows = await connection.execute_query_dict(dialect_sql(connection, sql), params)
    return bool(rows)
