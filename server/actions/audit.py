"""The audit trail: who changed what about whom. Entries are only ever added, never changed or
deleted, and always in the transaction of the change they record (both happen, or neither)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.adapters.tortoise import insert
from server.models import AuditAction, AuditEntry, User
from server.txscript import Script


def person(user: User) -> dict[str, str]:
    """How an entry names someone, as they were at the time."""
    return {"name": user.display_name, "email": user.email}


async def record(
    conn: BaseDBAsyncClient,
    actor: User | None,
    action: AuditAction,
    subject: User | None,
    **details: Any,
) -> AuditEntry:
    """Add an entry in the caller's transaction (`conn`); it names the people as they are now
    (their names and addresses may change later, or their accounts go)."""
    named = {
        **({"actor": person(actor)} if actor is not None else {}),
        **({"subject": person(subject)} if subject is not None else {}),
        **details,
    }
    entry: AuditEntry = await AuditEntry.create(
        actor_id=actor.id if actor is not None else None,
        action=action.value,
        subject_id=subject.id if subject is not None else None,
        details=named,
        using_db=conn,
    )
    return entry


def entry(
    actor: User | None,
    action: AuditAction,
    subject: User | None,
    now: datetime,
    *,
    target: str = "",
    reason: str = "",
    **details: Any,
) -> Script[None]:
    """Add an entry as a step of the caller's transaction script (server/txscript.py)."""
    named = {
        **({"actor": person(actor)} if actor is not None else {}),
        **({"subject": person(subject)} if subject is not None else {}),
        **details,
    }
    yield insert(
        AuditEntry(
            actor_id=actor.id if actor is not None else None,
            action=action.value,
            subject_id=subject.id if subject is not None else None,
            details=named,
            target=target,
            reason=reason,
            created_at=now,
        )  # fmt: skip
    )
