"""Notifications by e-mail: the push pipeline's second channel (part of the push worker).

Expanding an intent (push/expansion.py) finds its recipients, kinds, preferences and follow
states once, for both channels. A person who gets mail (their EmailChoice, a confirmed address,
an active account) gets a `MailItem` row, written once per intent under the intent's lease.
Items wait EMAIL_BATCH_MINUTES from a person's first one, longer in their quiet hours (unless
one is urgent and they let urgent ones through); then one mail lists them by thread
(push/digest.py), composed at that moment, and the transaction that queues it
(server/mail/outbox.queue_mail, keyed by the first item) deletes the items: a restart neither
loses nor doubles a mail. Nothing here names a kind: push/kinds.py says what each one is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from push.digest import compose_digest
from push.kinds import KINDS
from push.recipients import in_quiet_hours, quiet_hours_end, wants
from server.mail.digest import email_choice
from server.mail.outbox import queue_mail
from server.mail.policy import may_mail
from server.mentions import mention_names, mention_query
from server.models import (
    EmailChoice,
    Follow,
    FollowState,
    MailItem,
    Message,
    NotificationIntent,
    NotificationSettings,
    User,
)
from server.settings import Settings

log = logging.getLogger(__name__)

DUE_PEOPLE = 20  # people whose mail is composed per round
ITEMS_MAX = 200  # items in one mail; the rest make the next one
CHUNK = 500  # ids per IN (...) list
RETRY_AFTER = timedelta(minutes=5)  # a mail that failed to compose is tried again then

MailRow = tuple[str, str, str, str | None, datetime]  # user, kind, thread, message, happened


def mailed_kind(
    prefs: NotificationSettings | None, kinds: tuple[str, ...], now: datetime
) -> str | None:
    """Return the first of the kinds the person's preferences let into a mail (quiet hours
    only delay a mail, so they are left out here)."""
    return next((kind for kind in kinds if wants(prefs, kind, now, quiet=False)), None)


@dataclass(frozen=True)
class Mailing:
    """What the worker needs to send notification mails."""

    settings: Settings

    @property
    def batch(self) -> timedelta:
        return timedelta(minutes=self.settings.email_batch_minutes)


async def mailable(
    people: list[str], devices: dict[str, list[tuple[str, datetime]]]
) -> dict[str, NotificationSettings | None]:
    """Return, of these people, who gets notifications by mail now, with their settings."""
    found: dict[str, NotificationSettings | None] = {}
    for start in range(0, len(people), CHUNK):
        chunk = people[start : start + CHUNK]
        prefs = {p.user_id: p for p in await NotificationSettings.filter(user_id__in=chunk)}
        for user in await User.filter(id__in=chunk, email_verified_at__isnull=False):
            choice = email_choice(prefs.get(user.id), user.role)
            if not may_mail(user) or choice == EmailChoice.NEVER:
                continue
            if choice == EmailChoice.NO_DEVICE and devices.get(user.id):
                continue
            found[user.id] = prefs.get(user.id)
    return found


async def may_reach_a_mailbox(pending: list[NotificationIntent]) -> bool:
    """Tell cheaply whether a batch of intents may mail anyone (the full check follows): it
    is not only for followers, mentions someone with a confirmed address, or a follower with a
    confirmed address other than the message's own author reads one of its threads."""
    if any(not KINDS[i.kind].followers_only for i in pending if i.kind in KINDS.by_name):
        return True
    people = User.filter(email_verified_at__isnull=False, deactivated_at__isnull=True)
    messages = [i.message_id for i in pending if i.message_id is not None]
    authors: dict[str, str] = {}
    if messages:
        rows = await Message.filter(id__in=messages).values_list("id", "author_id", "body")
        authors = {str(mid): str(author) for mid, author, _ in rows}
        names = set().union(*(mention_names(body) for _, _, body in rows if "@" in body))
        mentioned = await mention_query(names) if names else None
        if mentioned is not None and await people.filter(mentioned).exists():
            return True
    followers: dict[str, set[str]] = {}
    for thread_id, user_id in await Follow.filter(
        thread_id__in=list({i.thread_id for i in pending}),
        state=FollowState.FOLLOWING,
        user_id__in=Subquery(people.values("id")),
    ).values_list("thread_id", "user_id"):
        followers.setdefault(str(thread_id), set()).add(str(user_id))
    # One's own message notifies nobody of it: a staff author following the thread is no reason.
    return any(
        followers.get(i.thread_id, set()) - {authors.get(i.message_id or "", "")} for i in pending
    )


async def record(mailing: Mailing, intent: NotificationIntent, rows: list[MailRow]) -> None:
    """Write an intent's mail items, once: the same transaction marks the intent mailed
    (its caller holds the intent's lease)."""
    if intent.mailed or not rows:
        return
    async with in_transaction() as conn:
        marked = NotificationIntent.filter(id=intent.id, mailed=False).using_db(conn)
        if not await marked.update(mailed=True):
            return  # written before (a worker that died before it deleted the intent)
        await MailItem.bulk_create(
            [
                MailItem(
                    user_id=user,
                    kind=kind,
                    thread_id=thread,
                    message_id=message,
                    created_at=at,
                    due_at=at + mailing.batch,
                )
                for user, kind, thread, message, at in rows
            ],  # fmt: skip
            using_db=conn,
        )


class Taken(Exception):
    """Another worker sent these items first (the transaction is rolled back)."""


async def send_due(mailing: Mailing, moment: datetime) -> int:
    """Compose and queue the mail of everyone whose first item is due; return how many
    people were looked at."""
    due = MailItem.filter(due_at__lte=moment).order_by("due_at").limit(DUE_PEOPLE * 10)
    people = list(dict.fromkeys(await due.values_list("user_id", flat=True)))[:DUE_PEOPLE]
    for user_id in people:
        try:
            await send_one(mailing, str(user_id), moment)
        except Taken:
            continue
        except Exception:  # one person's broken mail must not hold back everyone else's
            log.exception("notification mail for %s failed; trying again later", user_id)
            later = moment + RETRY_AFTER
            await MailItem.filter(user_id=user_id, due_at__lte=moment).update(due_at=later)
    return len(people)


async def send_one(mailing: Mailing, user_id: str, moment: datetime) -> None:
    """Queue one person's mail listing all their waiting items, or hold it back for quiet
    hours, or drop the items when nothing in them may or need go out any more."""
    items = await MailItem.filter(user_id=user_id).order_by("id").limit(ITEMS_MAX)
    if not items:
        return
    user = await User.get_or_none(id=user_id)
    prefs = await NotificationSettings.get_or_none(user_id=user_id)
    ids = [i.id for i in items]
    keep: list[MailItem] = []
    if user is not None and may_mail(user) and email_choice(prefs, user.role) != EmailChoice.NEVER:
        # The person's choices now: a kind turned off since drops out.
        keep = [i for i in items if i.kind in KINDS.by_name and KINDS[i.kind].enabled(prefs)]
    if (
        keep
        and prefs is not None
        and in_quiet_hours(prefs, moment)
        and not any(wants(prefs, i.kind, moment) for i in keep)  # nothing urgent may go
    ):
        until = max(quiet_hours_end(prefs, moment), moment + timedelta(minutes=1))
        await MailItem.filter(id__in=ids).update(due_at=until)
        return
    mail = await compose_digest(mailing.settings, user, keep) if keep and user else None
    first = items[0]
    key = f"notify:{user_id}:{first.id}:{first.created_at.timestamp():.6f}"
    async with in_transaction() as conn:
        if await MailItem.filter(id__in=ids).using_db(conn).delete() != len(ids):
            raise Taken(user_id)
        if mail is not None and not await queue_mail(mail, key, conn=conn):
            raise Taken(user_id)
    if mail is not None:
        log.info("notification mail for %s queued (%d items)", user_id, len(ids))
