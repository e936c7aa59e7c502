"""Mail that arrives (server/actions/inbound_mail.py) against the real database: a reply
posts as its person, once; refusals, auto-replies and bounces write nothing; the support
address starts questions for known and new customers."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from server.actions.accounts import create_user
from server.actions.inbound_mail import Outcome, Received, is_ours, receive_mail
from server.actions.sanctions import sanction
from server.actions.threads import start_thread, update_thread
from server.mail.replyaddr import reply_address
from server.models import Attachment, Audience, Message, OutboundMail, Role, Thread, User
from server.policy import policy_of
from server.publisher import Publisher
from server.ratelimit import PostLimiter
from server.settings import ROLES, Settings
from server.storage.local import LocalStorage
from tests.conftest import NOT_LIVE, PASSWORD, make_settings
from tests.photos import meter_jpeg

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
SUPPORT = "support@nordlicht.example"
RELAY = "mx.nordlicht.example"
WEBER = "weber@example.org"


@pytest.fixture
def mail_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, mail_reply_domain="reply.nordlicht.example",
        mail_support_address=SUPPORT, mail_trusted_authserv_id=RELAY, mail_max_mb=1.0,
    )  # fmt: skip


@pytest.fixture
async def site(weber_and_jan: dict[str, Any], mail_settings: Settings) -> dict[str, Any]:
    thread, _, _ = await start_thread(
        NOT_LIVE, weber_and_jan["weber"], "Meter reading", "It shows 0815.", "q1"
    )
    return {**weber_and_jan, "thread": thread, "settings": mail_settings}


def reply(sender: str, text: str, message_id: str = "<r1@example.org>", **headers: str) -> bytes:
    """Return a reply as a mail client writes it: new text above the quoted notification."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Dreiklang <ignored@example.org>"  # the envelope decides, not this header
    msg["Subject"] = "Re: New reply: Meter reading"
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(
        f"{text}\n\nOn Sun, Dec 6, 2026 at 9:15 PM Dreiklang <x@example.org> wrote:\n\n"
        "> Jan Petersen replied:\n>\n> Could you read the meter again?\n"
    )
    return msg.as_bytes()


async def counts() -> tuple[int, ...]:
    return (
        await Message.all().count(), await Thread.all().count(), await User.all().count(),
        await Attachment.all().count(), await OutboundMail.all().count(),
    )  # fmt: skip


async def receive(site: dict[str, Any], raw: bytes, to: str, sender: str = "weber@example.org",
                  **kw: Any) -> Received:  # fmt: skip
    return await receive_mail(site["settings"], NOT_LIVE, raw, sender, [to], **kw)


def address_of(site: dict[str, Any], who: str = "weber", thread: str = "") -> str:
    return reply_address(site["settings"], site[who].id, thread or site["thread"].id)


async def test_a_reply_posts_its_new_text_as_that_person(site: dict[str, Any]) -> None:
    raw = reply("Gisela Weber <Weber@Example.org>", "Now it shows 4711.")
    received = await receive(site, raw, address_of(site).upper())
    assert received.outcome == Outcome.POSTED, received
    message = await Message.get(id=received.message_id)
    assert (message.thread_id, message.author_id) == (site["thread"].id, site["weber"].id)
    assert message.body == "Now it shows 4711."


async def test_staff_answering_a_notes_notification_by_mail_write_a_staff_note(
    site: dict[str, Any],
) -> None:
    settings, thread = site["settings"], site["thread"].id
    note_address = reply_address(settings, site["jan"].id, thread, note=True)
    raw = reply("jan@nordlicht.example", "Colleagues: the meter is on our list.", "<n1@x>")
    received = await receive(site, raw, note_address, "jan@nordlicht.example")
    assert received.outcome == Outcome.POSTED, received
    assert (await Message.get(id=received.message_id)).audience == Audience.STAFF
    # Without the mark, a staff member's mail reply answers the customer.
    raw = reply("jan@nordlicht.example", "Frau Weber, we come on Tuesday.", "<p1@x>")
    received = await receive(site, raw, address_of(site, "jan"), "jan@nordlicht.example")
    assert (await Message.get(id=received.message_id)).audience == Audience.ALL


async def test_a_note_mark_on_a_customers_reply_address_posts_no_note(
    site: dict[str, Any],
) -> None:
    note_address = reply_address(site["settings"], site["weber"].id, site["thread"].id, True)
    received = await receive(site, reply(WEBER, "Still 4711."), note_address)
    assert (await Message.get(id=received.message_id)).audience == Audience.ALL


async def test_a_redelivered_mail_is_stored_once(site: dict[str, Any]) -> None:
    raw = reply("weber@example.org", "Once only.")
    first = await receive(site, raw, address_of(site))
    before = await counts()
    again = await receive(site, b"Received: from relay2\r\n" + raw, address_of(site))
    assert again.outcome == Outcome.POSTED and again.message_id == first.message_id
    assert await counts() == before


@pytest.mark.parametrize(
    "case", ["forwarded", "other_persons_address", "unseen_thread", "closed", "muted", "empty"]
)
async def test_refused_replies_write_nothing(site: dict[str, Any], case: str) -> None:
    weber, jan = site["weber"], site["jan"]
    to, sender, text = address_of(site), "weber@example.org", "Hello"
    if case == "forwarded":  # Weber forwarded her notification; someone else answers it
        sender = "neighbour@example.net"
    elif case == "other_persons_address":  # Weber writes to Jan's reply address
        to = address_of(site, "jan")
    elif case == "unseen_thread":  # her signature, but a thread she cannot see
        internal, _, _ = await start_thread(NOT_LIVE, jan, "Staff only", "x", "i1",
                                            visibility="internal")  # fmt: skip
        to = address_of(site, thread=internal.id)
    elif case == "closed":
        await update_thread(NOT_LIVE, weber, site["thread"].id, status="closed")
    elif case == "muted":
        mod = await create_user("mod@nordlicht.example", "Mo", PASSWORD, Role.MODERATOR)
        await sanction(NOT_LIVE, mod, weber.id, "mute", 1, "cool down")
    elif case == "empty":
        text = ""
    before = await counts()
    received = await receive(site, reply(sender, text), to, sender=sender)
    assert received.outcome == Outcome.REFUSED, received
    assert received.reason
    assert await counts() == before


@pytest.mark.parametrize(
    "name",
    ["out_of_office_de.eml", "vacation_precedence.eml", "x_autoreply.eml", "bounce_dsn.eml",
     "bounce_plain_daemon.eml"],
)  # fmt: skip
async def test_auto_replies_and_bounces_write_nothing(site: dict[str, Any], name: str) -> None:
    raw = (FIXTURES / name).read_bytes().replace(b"Tom Baker <tom.baker@example.net>",
                                                  b"weber@example.org")  # fmt: skip
    before = await counts()
    received = await receive(site, raw, address_of(site))
    assert received.outcome == Outcome.IGNORED and received.accepted
    bounce = await receive(site, reply("weber@example.org", "x"), address_of(site), sender="")
    assert bounce.outcome == Outcome.IGNORED
    support = await receive(site, raw, SUPPORT)
    assert support.outcome == Outcome.IGNORED
    assert await counts() == before


async def test_too_large_a_mail_is_refused(site: dict[str, Any]) -> None:
    raw = reply("weber@example.org", "x" * 1_200_000)
    received = await receive(site, raw, address_of(site))
    assert received.outcome == Outcome.TOO_LARGE


async def test_required_authentication_comes_from_the_trusted_relay(site: dict[str, Any]) -> None:
    site["settings"] = dataclasses.replace(site["settings"], mail_require_auth=True)
    raw = reply("weber@example.org", "Signed?", "<a1@example.org>")
    refused = await receive(site, raw, address_of(site))
    assert refused.outcome == Outcome.REFUSED and "not authenticated" in refused.reason
    forged = reply(
        "weber@example.org",
        "Signed?",
        "<a2@example.org>",
        Authentication_Results="mx.evil.example; dkim=pass header.d=example.org",
    )
    assert (await receive(site, forged, address_of(site))).outcome == Outcome.REFUSED
    signed = reply(
        "weber@example.org",
        "Signed!",
        "<a3@example.org>",
        Authentication_Results=f"{RELAY}; dkim=pass header.d=example.org",
    )
    assert (await receive(site, signed, address_of(site))).outcome == Outcome.POSTED


async def test_a_known_customer_starts_a_question_by_mail(site: dict[str, Any]) -> None:
    raw = (
        (FIXTURES / "support_new_de.eml")
        .read_bytes()
        .replace(b"Helga Schmidt <helga.schmidt@example.com>", b"Gisela Weber <weber@example.org>")
    )
    received = await receive(site, raw, SUPPORT)
    assert received.outcome == Outcome.STARTED, received
    thread = await Thread.get(id=received.thread_id)
    assert (thread.title, thread.author_id, thread.visibility.value) == (
        "Frage zu meinem Tarif",
        site["weber"].id,
        "public",
    )
    first = await Message.get(id=received.message_id)
    assert first.body == "Guten Tag,\n\nkann ich meinen Tarif zum nächsten Monat wechseln?"
    assert await OutboundMail.all().count() == 0  # she has an account: no invitation


async def test_a_new_customer_gets_an_account_a_question_and_an_invitation(
    site: dict[str, Any],
) -> None:
    raw = (FIXTURES / "support_new_de.eml").read_bytes()
    received = await receive(site, raw, SUPPORT, sender="helga.schmidt@example.com")
    assert received.outcome == Outcome.STARTED, received
    helga = await User.get(email="helga.schmidt@example.com")
    assert (helga.display_name, helga.role, helga.language) == (
        "Helga Schmidt",
        Role.CUSTOMER,
        "de",
    )
    assert (await Thread.get(id=received.thread_id)).author_id == helga.id
    invitation = await OutboundMail.get(recipient="helga.schmidt@example.com")
    assert invitation.key == f"invite:{helga.id}"
    before = await counts()
    again = await receive(site, raw, SUPPORT, sender="helga.schmidt@example.com")
    assert again.thread_id == received.thread_id
    assert await counts() == before


async def test_staff_never_start_customer_questions_by_mail(site: dict[str, Any]) -> None:
    raw = reply("Jan Petersen <jan@nordlicht.example>", "A question?")
    before = await counts()
    received = await receive(site, raw, SUPPORT, sender="jan@nordlicht.example")
    assert received.outcome == Outcome.REFUSED and "staff" in received.reason
    assert await counts() == before


async def test_a_refused_question_from_a_stranger_leaves_no_account(site: dict[str, Any]) -> None:
    raw = reply("Stranger <stranger@example.com>", "")  # no new text: nothing to ask
    before = await counts()
    received = await receive(site, raw, SUPPORT, sender="stranger@example.com")
    assert received.outcome == Outcome.REFUSED
    assert await counts() == before


async def test_a_photo_in_a_reply_is_attached(site: dict[str, Any], tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "weber@example.org"
    msg["Subject"] = "Re: meter"
    msg["Message-ID"] = "<photo@example.org>"
    msg.set_content("Here is the photo.")
    msg.add_attachment(meter_jpeg(600, 800), maintype="image", subtype="jpeg", filename="m.jpg")
    storage = LocalStorage(tmp_path / "files")
    received = await receive(site, msg.as_bytes(), address_of(site), storage=storage)
    assert received.outcome == Outcome.POSTED and received.left_out == 0
    (att,) = await Attachment.filter(message_id=received.message_id)
    assert (att.kind.value, att.uploader_id) == ("image", site["weber"].id)
    without = await receive(site, msg.as_bytes().replace(b"<photo@", b"<photo2@"),
                            address_of(site))  # fmt: skip
    assert without.outcome == Outcome.POSTED and without.left_out == 1


def test_only_reply_addresses_and_the_support_address_are_ours(mail_settings: Settings) -> None:
    good = reply_address(mail_settings, "abcdefghijkl", "mnopqrstuvwx")
    assert is_ours(mail_settings, good) and is_ours(mail_settings, f"<{good.upper()}>")
    assert is_ours(mail_settings, "Support@Nordlicht.example")
    assert not is_ours(mail_settings, "anyone@example.org")
    assert not is_ours(mail_settings, good.replace("reply+", "reply+a"))


async def test_over_the_posting_rate_a_mail_is_put_off_not_lost(site: dict[str, Any]) -> None:
    settings = dataclasses.replace(site["settings"], posts_per_minute={r: 1 for r in ROLES})
    publisher = Publisher(policy=policy_of(settings, PostLimiter.from_settings(settings)))
    to = address_of(site)
    first = await receive_mail(settings, publisher, reply(WEBER, "One", "<p1@x>"), WEBER, [to])
    before = await counts()
    second = await receive_mail(settings, publisher, reply(WEBER, "Two", "<p2@x>"), WEBER, [to])
    assert (first.outcome, second.outcome) == (Outcome.POSTED, Outcome.DEFERRED)
    assert await counts() == before


async def test_photos_in_a_new_question_follow_it_once(
    site: dict[str, Any], tmp_path: Path
) -> None:
    msg = EmailMessage()
    msg["From"] = "Helga Schmidt <helga.schmidt@example.com>"
    msg["Subject"] = "Zähler kaputt?"
    msg["Message-ID"] = "<question-photo@example.com>"
    msg.set_content("Das Display ist dunkel, siehe Foto.")
    msg.add_attachment(meter_jpeg(600, 800), maintype="image", subtype="jpeg", filename="z.jpg")
    storage = LocalStorage(tmp_path / "files")
    helga = "helga.schmidt@example.com"
    received = await receive(site, msg.as_bytes(), SUPPORT, sender=helga, storage=storage)
    assert received.outcome == Outcome.STARTED and received.left_out == 0
    messages = await Message.filter(thread_id=received.thread_id).order_by("created_at")
    assert [m.body for m in messages] == ["Das Display ist dunkel, siehe Foto.", ""]
    assert await Attachment.filter(message_id=messages[1].id).count() == 1
    before = await counts()
    await receive(site, msg.as_bytes(), SUPPORT, sender=helga, storage=storage)
    assert await counts() == before
