"""What moderators do to people: mute (read only) or suspend (cannot sign in) for a while, with
a reason shown to them, and lift it. Each is in the audit log, and closes the person's open
sockets at once on every process (their app reconnects with what it may do now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server.actions.audit import entry
from server.actions.sessions import close_every_socket
from server.adapters.tortoise import update
from server.errors import ActionError, Forbidden, NotFound
from server.i18n import N_
from server.models import AuditAction, Role, User
from server.people import user_by_id
from server.publisher import Publisher
from server.queries import is_id
from server.text import has_control_character
from server.txscript import Script, run_transaction

REASON_MAX_CHARS = 200  # a sentence the person reads
SANCTION_MAX_DAYS = 366  # longer than a year is deactivating the account (admins)


def clean_reason(reason: object, *, required: bool = True) -> str:
    """Return a moderator's reason, one line, or raise."""
    if not isinstance(reason, str):
        reason = ""
    text = " ".join(reason.split())
    if required and not text:
        raise ActionError("reason_required", N_("say why: the person is shown the reason"))
    if has_control_character(text):
        raise ActionError("invalid_reason", N_("the reason contains a control character"))
    if len(text) > REASON_MAX_CHARS:
        raise ActionError(
            "reason_too_long",
            N_("the reason is {length} characters; the limit is {limit}"),
            length=len(text),
            limit=REASON_MAX_CHARS,
        )
    return text


def clean_hours(hours: object) -> float:
    """Return a sanction's length in hours (up to a year), or raise."""
    try:
        value = float(str(hours))
    except ValueError:
        value = -1.0
    if not (0 < value <= SANCTION_MAX_DAYS * 24):
        raise ActionError(
            "invalid_duration",
            N_("the duration must be more than 0 and at most {days} days, not {hours!r:.20}"),
            days=SANCTION_MAX_DAYS,
            hours=hours,
        )
    return value


def require_voice(user: User, now: datetime | None = None) -> None:
    """Refuse to let a muted person write, with when it ends and why."""
    if user.muted_until is not None and user.muted_until > (now or datetime.now(UTC)):
        raise Forbidden(
            N_("you are muted until {until} UTC and can only read: {reason}"),
            until=user.muted_until.strftime("%Y-%m-%d %H:%M"),
            reason=user.sanction_reason,
        )


def suspended(user: User, now: datetime | None = None) -> bool:
    """Tell whether a person is suspended now (they cannot sign in or use the app)."""
    return user.suspended_until is not None and user.suspended_until > (now or datetime.now(UTC))


async def _target(actor: User, user_id: object) -> User:
    if not actor.moderates or not actor.is_active:
        raise Forbidden(N_("only moderators can mute or suspend people"))
    target = await user_by_id(user_id) if is_id(user_id) else None
    if target is None:
        raise NotFound(N_("person not found"))
    if target.id == actor.id:
        raise Forbidden(N_("you cannot mute or suspend yourself"))
    # Moderators act on customers; admins also on employees and moderators, never on admins.
    if target.role == Role.ADMIN or (target.is_staff and actor.role != Role.ADMIN):
        raise Forbidden(N_("only an admin can mute or suspend staff, and nobody an admin"))
    return target


def _write(actor: User, target: User, action: AuditAction, now: datetime,
           reason: str, **details: Any) -> Script[None]:  # fmt: skip
    yield update(target, ("muted_until", "suspended_until", "sanction_reason"))
    yield from entry(actor, action, target, now, reason=reason, **details)


async def sanction(
    publisher: Publisher, actor: User, user_id: object, kind: object, hours: object, reason: object
) -> User:
    """Mute ("mute") or suspend ("suspend") a person for `hours`, saying why."""
    target = await _target(actor, user_id)
    if kind not in ("mute", "suspend"):
        raise ActionError(
            "invalid_sanction", N_("choose mute or suspend, not {kind!r:.20}"), kind=kind
        )
    length = clean_hours(hours)
    why = clean_reason(reason)
    now = datetime.now(UTC)
    until = now + timedelta(hours=length)
    if kind == "mute":
        target.muted_until, action = until, AuditAction.MUTED
    else:
        target.suspended_until, action = until, AuditAction.SUSPENDED
    target.sanction_reason = why
    await run_transaction(_write(actor, target, action, now, why, until=until.isoformat()))
    await close_every_socket(publisher, target)
    return target


async def lift(publisher: Publisher, actor: User, user_id: object, reason: object = "") -> User:
    """End a person's mute and suspension now."""
    target = await _target(actor, user_id)
    if target.muted_until is None and target.suspended_until is None:
        return target
    now = datetime.now(UTC)
    target.muted_until = target.suspended_until = None
    target.sanction_reason = ""
    why = clean_reason(reason, required=False)
    await run_transaction(_write(actor, target, AuditAction.SANCTION_LIFTED, now, why))
    await close_every_socket(publisher, target)
    return target
