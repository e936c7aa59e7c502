"""'I'm answering': an employee claims a thread so colleagues don't pile in.

A claim ends when its holder posts a reply (server/actions/messages.py), releases it, or by
itself at `claimed_until` (CLAIM_MINUTES after the claim). Claiming again extends one's own
claim; a colleague's claim that still holds is refused with who has it. Staff only: claims
are never shown to customers (server/events/claims.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server import sql
from server.actions.desk import notify_desk
from server.actions.writes import record
from server.errors import Conflict, Forbidden, NotFound
from server.events import claims, desk
from server.events.claims import ClaimState
from server.i18n import N_
from server.models import Thread, ThreadStatus, User
from server.publisher import Change, Publisher
from server.queries import thread_for
from server.txscript import Script, run_transaction


class Claimed(Conflict):
    """A colleague's claim holds: `holder` says whose, until when."""

    def __init__(self, holder: ClaimState) -> None:
        super().__init__(N_("{name} is answering this thread already"), name=holder.name)
        self.holder = holder


async def _claimable(actor: User, thread_id: object) -> Thread:
    thread = await thread_for(actor, thread_id)
    if thread is None:  # first: a hidden thread answers as a missing one, for anyone
        raise NotFound()
    if not actor.is_staff:
        raise Forbidden(N_("only staff can claim a thread"))
    return thread


def _take(change: Change, actor: User, thread: Thread, until: datetime, now: datetime
          ) -> Script[bool]:  # fmt: skip
    won = yield from sql.take_claim(thread.id, actor.id, until, now)
    if won:
        state = ClaimState(thread.id, actor.id, actor.display_name, until)
        yield from record(change, claims.CHANGED, thread.id, state, now)
        yield from record(change, desk.ANSWERING, thread.id, state, now)
        notify_desk(change, thread.id)
    return won


async def claim_thread(
    publisher: Publisher, actor: User, thread_id: object, minutes: float
) -> ClaimState:
    """Claim a thread for `minutes` (or extend one's own claim); refuse if a colleague has it."""
    thread = await _claimable(actor, thread_id)
    if thread.status in (ThreadStatus.CLOSED, ThreadStatus.RESOLVED):
        raise Conflict(N_("this thread is {status}: there is nothing to answer"),
                       status=thread.status.value)  # fmt: skip
    now = datetime.now(UTC)
    change = Change()
    won = await run_transaction(_take(change, actor, thread, now + timedelta(minutes=minutes), now))
    if not won:
        raise Claimed(await claims.state_of(await Thread.get(id=thread.id)))
    await publisher.publish(change)
    return change.events[0].subject  # type: ignore[no-any-return]


def _drop(change: Change, thread: Thread, holder: str, now: datetime) -> Script[bool]:
    dropped = yield from sql.drop_claim(thread.id, holder)
    if dropped:
        yield from record(change, claims.CHANGED, thread.id, ClaimState(thread.id), now)
        yield from record(change, desk.ANSWERING, thread.id, ClaimState(thread.id), now)
        notify_desk(change, thread.id)
    return dropped


async def release_thread(publisher: Publisher, actor: User, thread_id: object) -> ClaimState:
    """End one's own claim on a thread (a colleague's claim stays: it lapses by itself)."""
    thread = await _claimable(actor, thread_id)
    change = Change()
    if await run_transaction(_drop(change, thread, actor.id, datetime.now(UTC))):
        await publisher.publish(change)
    return ClaimState(thread.id)


def end_on_reply(change: Change, thread: Thread, writer: User, now: datetime) -> Script[None]:
    """A step for the send: the holder's public reply ends their claim (a note does not)."""
    if thread.claimed_by_id == writer.id:
        yield from _drop(change, thread, writer.id, now)
