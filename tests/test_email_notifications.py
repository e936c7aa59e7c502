"""Notifications by e-mail (push/mailing.py, push/digest.py): the push worker, driven by hand
against a real database (SQLite, and PostgreSQL when configured), batches a person's news into
one mail in the outbox (server/mail/outbox.py), in their language, with only what they may see
and have not read, when their choice, their address and their quiet hours allow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from push.digest import SUBJECT_ONE
from push.mailing import Mailing, may_reach_a_mailbox, record, send_due
from push.vapid import VapidKeys, load_or_create
from push.worker import PushConfig, PushWorker
from server.actions.account_mail import confirm_email, confirm_link
from server.actions.accounts import create_user, set_language
from server.actions.admin import deactivate
from server.actions.messages import delete_message, send_message
from server.actions.notifications import save_preferences, save_subscription, set_follow
from server.actions.reads import mark_read
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.i18n import gettext_for
from server.mail.digest import unsubscribing
from server.models import (
    Audience,
    MailItem,
    NotificationIntent,
    OutboundMail,
    PushJob,
    Role,
    Thread,
    User,
)
from server.publisher import Publisher
from server.settings import Settings
from tests.conftest import PASSWORD, make_settings
from tests.live_helpers import new_client_id
from tests.pushservice import PushService, Subscription

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER = "weber@example.org"  # customer, address confirmed
TOM = "tom@example.org"  # customer, address not confirmed
JAN = "jan@nordlicht.example"  # employee
ALL_KINDS = {"replies": "1", "mentions": "1", "status_changes": "1"}


@dataclass
class Mailroom:
    """A database, the people, a push service, and a push worker that runs only when told."""

    settings: Settings
    service: PushService
    keys: VapidKeys
    worker: PushWorker
    people: dict[str, User]
    publisher: Publisher

    @property
    def mailing(self) -> Mailing:
        assert self.worker.mailing is not None
        return self.worker.mailing

    async def run(self) -> None:
        """One round of the worker: intents become jobs and mail items, due mail goes out."""
        await self.worker.run_once()

    async def at(self, moment: datetime) -> None:
        """Queue the mail that is due at a later moment."""
        await send_due(self.mailing, moment)

    async def device(self, who: str) -> Subscription:
        sub = await asyncio.to_thread(self.service.subscribe, self.keys.public_key)
        prefixed = self.settings.with_overrides(
            push_test_endpoint_prefix=self.service.endpoint_prefix
        )
        await save_subscription(prefixed, self.people[who], sub.endpoint, sub.p256dh,
                                sub.auth, "Phone")  # fmt: skip
        return sub

    async def choose(self, who: str, **form: str) -> None:
        await save_preferences(self.people[who], {**ALL_KINDS, **form})


async def mails_to(address: str) -> list[OutboundMail]:
    return await OutboundMail.filter(recipient=address).order_by("id")


async def confirmed(settings: Settings, user: User) -> User:
    """Confirm a person's address the way the link in the confirmation mail does."""
    token = confirm_link(settings, user, user.email).rsplit("/", 1)[1]
    return await confirm_email(settings, token)


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


@pytest.fixture
async def room(database_url: str, tmp_path: Path) -> AsyncIterator[Mailroom]:
    settings = make_settings(
        database_url, tmp_path, email_batch_minutes=5.0, public_url="https://care.example.com",
        mail_reply_domain="reply.care.example.com",
    )  # fmt: skip
    await open_database(settings)
    try:
        people = {
            "weber": await confirmed(
                settings, await create_user(WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER)
            ),
            "tom": await create_user(TOM, "Tom Becker", PASSWORD, Role.CUSTOMER),
            "jan": await confirmed(
                settings,
                await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service"),
            ),
        }
        keys = load_or_create(tmp_path, "", "mailto:ops@nordlicht.example")
        with PushService() as service:
            config = PushConfig.from_settings(
                settings.with_overrides(push_test_endpoint_prefix=service.endpoint_prefix), keys
            )
            worker = PushWorker(config)
            async with aiohttp.ClientSession() as session:
                worker._session = session  # the worker's own session, without its loop
                yield Mailroom(settings, service, keys, worker, people, Publisher())
    finally:
        await close_database()


async def thread_of(room: Mailroom, who: str = "weber", title: str = "Meter swap") -> Thread:
    """A thread the person started (and so follows); their own first message mails nobody."""
    thread, _, _ = await start_thread(
        room.publisher, room.people[who], title, "When do you come?", new_client_id()
    )
    await room.run()
    return thread


async def says(room: Mailroom, who: str, thread: Thread, text: str, **extra: Any) -> str:
    message, _ = await send_message(
        room.publisher, room.people[who], thread.id, text, new_client_id(), **extra
    )
    return str(message.id)


# -- batching -------------------------------------------------------------------------------


async def test_a_reply_storm_is_one_mail_after_the_batch_minutes_listing_each_reply_newest_last(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    for text in ("We come on Tuesday.", "Between 8 and 10.", "Please keep the cellar open."):
        await says(room, "jan", thread, text)
    await room.run()
    assert await MailItem.filter(user_id=room.people["weber"].id).count() == 3
    assert await mails_to(WEBER) == [], "the mail waits for EMAIL_BATCH_MINUTES"
    await room.at(later(4))
    assert await mails_to(WEBER) == []
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    assert mail.subject == "New in “Meter swap”"
    text = mail.text
    first = text.index("Jan Petersen (staff): We come on Tuesday.")
    assert first < text.index("Between 8 and 10.") < text.index("Please keep the cellar open.")
    assert f"https://care.example.com/threads/{thread.id}#msg-" in text
    assert await MailItem.all().count() == 0
    await room.at(later(60))
    assert len(await mails_to(WEBER)) == 1, "a batch goes out once"


async def test_news_in_several_threads_is_one_mail_grouped_by_thread_without_a_reply_to(
    room: Mailroom,
) -> None:
    meter = await thread_of(room, title="Meter swap")
    bill = await thread_of(room, title="Bill too high")
    await says(room, "jan", meter, "We come on Tuesday.")
    await says(room, "jan", bill, "We checked your bill.")
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    assert mail.subject == "New in “Bill too high” and 1 more"
    assert mail.text.index("Meter swap") < mail.text.index("Bill too high"), "newest last"
    assert mail.reply_to == "", "a reply could not say which thread it answers"


async def test_replies_read_meanwhile_drop_out_and_with_all_read_no_mail_goes(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await mark_read(room.publisher, room.people["weber"], await Thread.get(id=thread.id))
    await says(room, "jan", thread, "Or Wednesday?")
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    assert "Or Wednesday?" in mail.text
    assert "We come on Tuesday." not in mail.text, "she read it in the app"
    await says(room, "jan", thread, "Wednesday it is.")
    await room.run()
    await mark_read(room.publisher, room.people["weber"], await Thread.get(id=thread.id))
    await room.at(later(12))
    assert len(await mails_to(WEBER)) == 1, "everything read: no mail"
    assert await MailItem.all().count() == 0


async def test_quiet_hours_hold_the_mail_until_they_end(room: Mailroom) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    await room.choose("weber", quiet_hours="1", quiet_start=f"{start:%H:%M}",
                      quiet_end=f"{end:%H:%M}", time_zone="UTC")  # fmt: skip
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await room.at(later(6))
    assert await mails_to(WEBER) == [], "quiet hours"
    [item] = await MailItem.all()
    assert item.due_at == end.replace(second=0, microsecond=0)
    await room.at(end + timedelta(minutes=1))
    [mail] = await mails_to(WEBER)
    assert "We come on Tuesday." in mail.text


async def test_a_mention_breaks_quiet_hours_when_the_person_lets_urgent_ones_through(
    room: Mailroom,
) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    await room.choose("weber", quiet_hours="1", quiet_start=f"{start:%H:%M}",
                      quiet_end=f"{end:%H:%M}", time_zone="UTC",
                      urgent_in_quiet_hours="1")  # fmt: skip
    thread = await thread_of(room)
    await says(room, "jan", thread, "@weber can you send a photo of the meter?")
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    assert "Jan Petersen (staff) mentioned you: @weber can you send a photo" in mail.text


# -- who gets mail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "device", "mailed", "pushed"),
    [
        ("", False, True, False),  # a customer's default: mail while she has no device
        ("no_device", True, False, True),
        ("always", True, True, True),
        ("never", False, False, False),
    ],
)
async def test_the_email_choice_and_a_push_device_decide_who_gets_mail(
    room: Mailroom, choice: str, device: bool, mailed: bool, pushed: bool
) -> None:
    if choice:
        await room.choose("weber", email=choice)
    phone = await room.device("weber") if device else None
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await room.at(later(6))
    assert len(await mails_to(WEBER)) == int(mailed)
    if phone is not None:
        assert len(await room.service.wait_for_async(phone, 1 if pushed else 0, 0)) == int(pushed)
    assert await PushJob.all().count() == int(pushed)


async def test_staff_get_no_mail_by_default_and_can_choose_it(room: Mailroom) -> None:
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await says(room, "weber", thread, "Thank you!")
    await room.run()
    await room.at(later(6))
    assert await mails_to(JAN) == []
    await room.choose("jan", email="always")
    await says(room, "weber", thread, "Should I be at home?")
    await room.run()
    await room.at(later(12))
    [mail] = await mails_to(JAN)
    assert "Gisela Weber: Should I be at home?" in mail.text


async def test_an_unconfirmed_address_or_a_deactivated_account_gets_no_mail(
    room: Mailroom,
) -> None:
    admin = await confirmed(
        room.settings,
        await create_user(
            "admin@nordlicht.example", "Sabine Admin", PASSWORD, Role.ADMIN, "IT"
        ),  # fmt: skip
    )
    thread = await thread_of(room, "tom", "Tom's meter")
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await room.at(later(6))
    assert await mails_to(TOM) == [], "his address is not confirmed"
    weber_thread = await thread_of(room)
    await says(room, "jan", weber_thread, "We come on Tuesday.")
    await room.run()
    await deactivate(room.publisher, admin, room.people["weber"].id)
    await room.at(later(6))
    assert await mails_to(WEBER) == [], "deactivated while the mail waited"
    assert await MailItem.all().count() == 0


async def test_muting_a_thread_or_turning_replies_off_applies_to_mail_as_to_push(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    await set_follow(room.people["weber"], thread.id, "muted")
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.choose("weber", replies="")
    other = await thread_of(room, title="Bill too high")
    await says(room, "jan", other, "We checked your bill.")
    await room.run()
    await room.at(later(6))
    assert await mails_to(WEBER) == []


# -- what a mail may say --------------------------------------------------------------------


async def test_a_staff_note_or_a_deleted_reply_never_reaches_a_customers_mail(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    await says(room, "jan", thread, "Customer is difficult, bring the big ladder.",
               audience=Audience.STAFF)  # fmt: skip
    deleted = await says(room, "jan", thread, "Wrong customer, sorry.")
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await delete_message(room.publisher, room.people["jan"], deleted)  # after it was recorded
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    for part in (mail.text, mail.html, mail.subject):
        assert "ladder" not in part
        assert "Wrong customer" not in part
    assert "We come on Tuesday." in mail.text


async def test_a_german_customer_gets_a_german_mail_with_a_text_and_an_html_part(
    room: Mailroom,
) -> None:
    await set_language(room.people["weber"], "de")
    thread = await thread_of(room)
    await says(room, "jan", thread, "@weber wir kommen am <b>Dienstag</b> & bringen den Zähler.")
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    de = gettext_for("de").gettext
    assert mail.subject == de(SUBJECT_ONE).format(title="Meter swap")
    assert de("Hello {name},").format(name="Gisela Weber") in mail.text
    line = "Jan Petersen (Team) hat Sie erwähnt: @weber wir kommen am <b>Dienstag</b> & bringen"
    assert line in mail.text
    assert "<html" in mail.html and 'lang="de"' in mail.html
    assert "&lt;b&gt;Dienstag&lt;/b&gt; &amp; bringen" in mail.html, "escaped, never markup"


async def test_the_mail_has_one_click_unsubscribe_headers_and_the_persons_reply_address(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(WEBER)
    url = mail.headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://care.example.com/mail/unsubscribe/")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribing(room.settings, url.rsplit("/", 1)[1]) == room.people["weber"].id
    from server.mail.replyaddr import read_reply_address

    assert mail.reply_to.endswith("@reply.care.example.com")
    assert read_reply_address(room.settings, mail.reply_to) == (
        room.people["weber"].id,
        thread.id,
    )


async def test_told_of_a_staff_note_a_staff_members_mail_reply_becomes_a_note(
    room: Mailroom,
) -> None:
    from server.mail.replyaddr import read_reply_target

    room.people["mira"] = await create_user(
        "mira@nordlicht.example", "Mira Schulz", PASSWORD, Role.EMPLOYEE, "Billing"
    )
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")  # Jan follows the thread now
    await room.choose("jan", email="always")
    await says(room, "mira", thread, "Bring the big ladder.", audience=Audience.STAFF)
    await room.run()
    await room.at(later(6))
    [mail] = await mails_to(JAN)
    assert "Bring the big ladder." in mail.text
    jan = room.people["jan"]
    assert read_reply_target(room.settings, mail.reply_to) == (jan.id, thread.id, True)
    assert "staff note" in mail.text and "customers don't see it" in mail.html
    await says(room, "weber", thread, "Should I be at home?")
    await room.run()
    await room.at(later(12))
    [_, public] = await mails_to(JAN)
    assert read_reply_target(room.settings, public.reply_to) == (jan.id, thread.id, False)


async def test_a_batch_only_its_author_or_unconfirmed_people_could_hear_is_dropped_cheaply(
    room: Mailroom,
) -> None:
    async def pending(message_id: str) -> list[NotificationIntent]:
        return list(await NotificationIntent.filter(message_id=message_id))

    thread = await thread_of(room)  # only Frau Weber (confirmed) follows it
    # Her own follow-up, an address that is no mention, and Tom (unconfirmed): nobody to mail.
    for text in ("Update: 4711", "Write to weber@example.org", "@tom did yours work?"):
        assert not await may_reach_a_mailbox(await pending(await says(room, "weber", thread, text)))
    # Jan (confirmed) mentioned, or a follower who did not write it: maybe someone.
    assert await may_reach_a_mailbox(await pending(await says(room, "weber", thread, "@jan ok?")))
    assert await may_reach_a_mailbox(await pending(await says(room, "jan", thread, "Tuesday.")))


# -- durability -----------------------------------------------------------------------------


async def test_items_survive_a_restart_and_a_batch_is_queued_once_by_racing_workers(
    room: Mailroom, tmp_path: Path
) -> None:
    thread = await thread_of(room)
    await says(room, "jan", thread, "We come on Tuesday.")
    await room.run()
    assert await MailItem.all().count() == 1
    await close_database()  # the worker process stops with the item waiting
    await open_database(room.settings)
    fresh = PushWorker(PushConfig.from_settings(room.settings, room.keys))
    assert fresh.mailing is not None
    moment = later(6)
    await asyncio.gather(send_due(fresh.mailing, moment), send_due(room.mailing, moment))
    await send_due(fresh.mailing, later(7))
    assert len(await mails_to(WEBER)) == 1


async def test_an_intent_expanded_again_after_a_crash_writes_its_mail_items_once(
    room: Mailroom,
) -> None:
    thread = await thread_of(room)
    message = await says(room, "jan", thread, "We come on Tuesday.")
    intent = await NotificationIntent.get(message_id=message)
    row = (room.people["weber"].id, "reply", thread.id, message, intent.created_at)
    await record(room.mailing, intent, [row])
    await record(room.mailing, await NotificationIntent.get(id=intent.id), [row])
    assert await MailItem.all().count() == 1
