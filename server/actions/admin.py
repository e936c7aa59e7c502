"""What admins do to accounts: change a role, deactivate and reactivate. Each change is in the
audit trail, and reaches the person's open sockets at once, on every process (they close with
4401; the client reconnects with the rights it has now, or finds itself signed out)."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.actions.audit import record
from server.actions.sessions import close_every_socket
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.i18n import N_
from server.models import ApiToken, AuditAction, PushSubscription, Role, Session, User
from server.publisher import Publisher
from server.queries import is_id


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN or not actor.is_active:
        raise Forbidden(N_("only an admin may change accounts"))


def clean_role(role: object) -> Role:
    if role not in {r.value for r in Role}:
        raise ActionError("invalid_role", N_("unknown role {role!r:.20}"), role=role)
    return Role(str(role))


async def _locked_target(conn: BaseDBAsyncClient, user_id: object) -> User:
    """Load the account to change, locked until commit (PostgreSQL; SQLite locks it all)."""
    target = None
    if is_id(user_id):
        target = await User.filter(id=user_id).using_db(conn).select_for_update().first()
    if target is None:
        raise NotFound(N_("person not found"))
    return target


async def _keep_an_admin(conn: BaseDBAsyncClient, losing: User) -> None:
    """Refuse a change that would leave no active admin. Every active admin's row is locked,
    in one order: two admins demoting each other at once cannot both pass this check."""
    admins = (
        await User.filter(role=Role.ADMIN, deactivated_at__isnull=True)
        .using_db(conn)
        .select_for_update()
        .order_by("id")
    )
    if not [a for a in admins if a.id != losing.id]:
        raise Conflict(
            N_("{name} is the last admin: make someone else an admin first"),
            name=losing.display_name,
        )


async def change_role(publisher: Publisher, actor: User, user_id: object, role: object) -> User:
    """Give an account another role; its open sockets close so that no stale rights remain."""
    _require_admin(actor)
    new = clean_role(role)
    async with in_transaction() as conn:
        target = await _locked_target(conn, user_id)
        old = target.role
        if old == new:
            return target
        if old == Role.ADMIN and target.is_active:
            await _keep_an_admin(conn, target)
        target.role = new
        await target.save(using_db=conn, update_fields=["role"])
        await record(conn, actor, AuditAction.ROLE_CHANGED, target, old=old.value, new=new.value)
    await close_every_socket(publisher, target)
    return target


async def deactivate(publisher: Publisher, actor: User, user_id: object) -> User:
    """Lock an account out: it cannot sign in, and its sessions, API tokens, push devices and
    open sockets end now."""
    _require_admin(actor)
    async with in_transaction() as conn:
        target = await _locked_target(conn, user_id)
        if not target.is_active:
            return target
        if target.role == Role.ADMIN:
            await _keep_an_admin(conn, target)
        target.deactivated_at = datetime.now(UTC)
        await target.save(using_db=conn, update_fields=["deactivated_at"])
        sessions = await Session.filter(user_id=target.id).using_db(conn).delete()
        tokens = await ApiToken.filter(user_id=target.id).using_db(conn).delete()
        devices = await PushSubscription.filter(user_id=target.id).using_db(conn).delete()
        await record(
            conn, actor, AuditAction.DEACTIVATED, target,
            sessions=sessions, tokens=tokens, devices=devices,
        )  # fmt: skip
    await close_every_socket(publisher, target)
    return target


async def reactivate(actor: User, user_id: object) -> User:
    """Let a deactivated account sign in again (with its old password)."""
    _require_admin(actor)
    async with in_transaction() as conn:
        target = await _locked_target(conn, user_id)
        if target.is_active:
            return target
        target.deactivated_at = None
        await target.save(using_db=conn, update_fields=["deactivated_at"])
        await record(conn, actor, AuditAction.REACTIVATED, target)
    return target
