"""Who hears about what (push/recipients.py): followers, mentions and moderators, never the
person who acted nor anyone who may not see the thread or message; then each person's choices
and quiet hours in their own time zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from push.api import allowed_hosts
from push.audiences import mentioned
from push.recipients import in_quiet_hours, recipients, wants
from push.vapid import load_or_create
from push.worker import PushConfig, PushWorker
from server.actions.accounts import create_user
from server.actions.messages import send_message
from server.actions.notifications import save_preferences, save_subscription, set_follow
from server.actions.threads import start_thread, update_thread
from server.db import close_database, open_database
from server.errors import ActionError, NotFound
from server.markdown import MENTION_RE
from server.mentions import handle_of, team_handle
from server.models import (
    Audience,
    Message,
    NotificationIntent,
    NotificationSettings,
    PushJob,
    Role,
    Thread,
    User,
)
from server.settings import Settings
from tests.conftest import NOT_LIVE, PASSWORD, make_settings

PUSH_PREFIX = "http://127.0.0.1:9/push/"  # passes the endpoint guard here; nothing listens

PEOPLE = [
    # e-mail, name, role, team
    ("jan@nordlicht.example", "Jan Petersen", Role.EMPLOYEE, "Field service"),
    ("jana@nordlicht.example", "Jana Berg", Role.EMPLOYEE, "Field service"),
    ("mira@nordlicht.example", "Mira Yilmaz", Role.EMPLOYEE, "Billing"),
    ("aylin@nordlicht.example", "Aylin Kaya", Role.MODERATOR, "Community"),
    ("admin@nordlicht.example", "Sabine Admin", Role.ADMIN, "IT"),
    ("weber@example.org", "Gisela Weber", Role.CUSTOMER, ""),
    ("tom@example.org", "Tom Becker", Role.CUSTOMER, ""),
    ("a.b@example.org", "Anna Bauer", Role.CUSTOMER, ""),
    ("axb@example.org", "Axel Brandt", Role.CUSTOMER, ""),
]

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """A migrated, open database (SQLite, and PostgreSQL when configured), without a server:
    nothing expands the intents the actions write, so each test reads them itself."""
    settings = make_settings(database_url, tmp_path)
    await open_database(settings)
    try:
        yield settings
    finally:
        await close_database()


@pytest.fixture
async def people(db: Settings) -> dict[str, User]:
    """Everyone in PEOPLE, keyed by their @handle, created as an admin's CLI would."""
    found = {}
    for email, name, role, team in PEOPLE:
        user = await create_user(email, name, PASSWORD, role, team)
        found[handle_of(user)] = user
    return found


async def thread_by(author: User, title: str = "Meter shows 8888", visibility: str = "public",
                    body: str = "The display blinks.") -> Thread:  # fmt: skip
    thread, _, _ = await start_thread(
        NOT_LIVE, author, title, body, "start-" + title, "question", visibility
    )
    return thread


async def reply(
    author: User, thread: Thread, body: str, audience: Audience = Audience.ALL
) -> Message:
    message, created = await send_message(
        NOT_LIVE, author, thread.id, body, "c-" + body[:50], audience
    )
    assert created
    return message


async def heard(message: Message) -> dict[str, str]:
    """Return who the message's intent notifies, as {handle: kind}."""
    intent = await NotificationIntent.get(message_id=message.id, kind="reply")
    return {handle_of(user): kind for user, kind in await recipients(intent)}


# -- followers, the actor, and who may see what -----------------------------------------------


async def test_followers_hear_about_a_reply_and_the_person_who_wrote_it_does_not(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    first = await reply(people["jan"], thread, "We are on our way.")
    assert await heard(first) == {"weber": "reply"}, "the author follows what she started"
    second = await reply(people["weber"], thread, "Thank you!")
    assert await heard(second) == {"jan": "reply"}, "writing in a thread follows it"
    await set_follow(people["mira"], thread.id, "following")
    third = await reply(people["jan"], thread, "Fixed.")
    assert await heard(third) == {"weber": "reply", "mira": "reply"}


async def test_the_first_message_of_a_thread_notifies_only_the_people_it_mentions(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"], body="@mira my bill doubled")
    first = await Message.get(thread_id=thread.id)
    assert await heard(first) == {"mira": "mention"}


async def test_a_staff_note_reaches_staff_followers_and_no_customer(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    await set_follow(people["tom"], thread.id, "following")  # another customer, following too
    await set_follow(people["mira"], thread.id, "following")
    note = await reply(people["jan"], thread, "Note: both are behind on payments", Audience.STAFF)
    assert await heard(note) == {"mira": "reply"}, "followers do not leak a note"
    with pytest.raises(ActionError) as err:  # nor do mentions: they are refused (test_mentions.py)
        await reply(people["jan"], thread, "Note: @weber is behind", Audience.STAFF)
    assert err.value.code == "mention_unreachable"


async def test_nobody_outside_staff_hears_about_an_internal_thread(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["mira"], "Rollout plan", "internal", "Kick-off on Monday")
    await set_follow(people["jana"], thread.id, "following")
    message = await reply(people["jan"], thread, "@mira @field-service see plan")
    assert await heard(message) == {"mira": "mention", "jana": "mention"}
    with pytest.raises(ActionError):  # a customer mentioned here is refused (test_mentions.py)
        await reply(people["jan"], thread, "@weber @tom see plan")
    with pytest.raises(NotFound):
        await set_follow(people["weber"], thread.id, "following")  # cannot follow it either


async def test_a_muted_follower_hears_nothing_but_a_mention(people: dict[str, User]) -> None:
    thread = await thread_by(people["weber"])
    await reply(people["mira"], thread, "Billing will look into it.")  # mira follows now
    await set_follow(people["mira"], thread.id, "muted")
    plain = await reply(people["jan"], thread, "The meter is fine.")
    assert await heard(plain) == {"weber": "reply"}
    mention = await reply(people["jan"], thread, "@mira can you refund the fee?")
    assert await heard(mention) == {"weber": "reply", "mira": "mention"}
    # Muting sticks: writing in the thread again does not follow it again.
    await reply(people["mira"], thread, "Done.")
    later = await reply(people["jan"], thread, "Thanks.")
    assert await heard(later) == {"weber": "reply"}


async def test_a_mention_reaches_someone_who_does_not_follow_the_thread(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    message = await reply(people["weber"], thread, "Hello @JAN, (cc @mira.) anyone?")
    assert await heard(message) == {"jan": "mention", "mira": "mention"}


async def test_a_followers_mention_counts_as_a_mention_not_also_as_a_reply(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    message = await reply(people["jan"], thread, "@weber please send a photo of the meter")
    assert await heard(message) == {"weber": "mention"}


async def test_a_team_handle_mentions_every_member_of_the_team(people: dict[str, User]) -> None:
    assert team_handle("Field service") == "field-service"
    thread = await thread_by(people["weber"])
    message = await reply(people["weber"], thread, "Could @field-service check the meter?")
    assert await heard(message) == {"jan": "mention", "jana": "mention"}


async def test_a_team_handle_leaves_out_the_member_who_wrote_it(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["mira"], "Field day", "internal")
    message = await reply(people["jan"], thread, "@field-service meet at 8")
    assert await heard(message) == {"jana": "mention", "mira": "reply"}


async def test_mentioning_yourself_notifies_nobody(people: dict[str, User]) -> None:
    thread = await thread_by(people["weber"])
    message = await reply(people["weber"], thread, "Note to self, @weber: call back")
    assert await heard(message) == {}


async def test_e_mail_addresses_and_unknown_handles_in_the_text_mention_nobody(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["tom"])
    message = await reply(
        people["tom"], thread,
        "Write to jan@nordlicht.example or foo@bar.com, @nobody, @@mira, mira@ and x@jan.",
    )  # fmt: skip
    assert await heard(message) == {}
    assert await mentioned(message) == []


async def test_a_dot_in_a_handle_matches_literally_and_an_underscore_is_no_wildcard(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["tom"])
    message = await reply(people["tom"], thread, "Thanks @a.b! And @a_b, @a%b?")
    assert await heard(message) == {"a.b": "mention"}, "not axb@ through a LIKE wildcard"


def test_the_mention_pattern_reads_handles_not_addresses() -> None:
    text = "@jan, ask @field-service (and @Mira.) but not foo@bar.com or me@@aylin"
    assert MENTION_RE.findall(text) == ["jan", "field-service", "Mira."]


async def test_a_status_change_notifies_followers_but_not_who_changed_it(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    await reply(people["jan"], thread, "Looking into it.")
    await update_thread(NOT_LIVE, people["jan"], thread.id, status="resolved")
    intent = await NotificationIntent.get(thread_id=thread.id, kind="status")
    assert {handle_of(u): k for u, k in await recipients(intent)} == {"weber": "status"}


async def test_a_moderation_alert_reaches_moderators_and_admins_only(
    people: dict[str, User],
) -> None:
    thread = await thread_by(people["weber"])
    intent = await NotificationIntent.create(
        kind="moderation", thread_id=thread.id, actor_id=people["aylin"].id
    )  # no action writes these yet: moderation comes with a later issue
    notified = {handle_of(u): k for u, k in await recipients(intent)}
    assert notified == {"admin": "moderation"}, "the moderator who acted is left out"


# -- preferences --------------------------------------------------------------------------------

QUIET = {"replies": "1", "mentions": "1", "status_changes": "1", "moderation": "1",
         "quiet_hours": "1", "quiet_start": "22:00", "quiet_end": "07:00"}  # fmt: skip


def prefs(**changes: object) -> NotificationSettings:
    values: dict[str, object] = {"quiet_hours": True, "quiet_start": "22:00",
                                 "quiet_end": "07:00", "time_zone": "UTC"}  # fmt: skip
    values.update(changes)
    return NotificationSettings(user_id="someone", **values)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "in_utc", "in_new_york"),
    [
        ("2024-01-15 23:00", True, False),  # 18:00 in New York (EST, UTC-5)
        ("2024-01-16 03:30", True, True),  # 22:30 in New York
        ("2024-01-16 10:00", False, True),  # 05:00 in New York
        ("2024-01-16 11:59", False, True),  # 06:59 in New York: the last quiet minute
        ("2024-01-16 12:00", False, False),  # 07:00 in New York: quiet hours are over
        ("2024-01-16 14:00", False, False),
    ],
)
def test_quiet_hours_across_midnight_follow_the_users_time_zone(
    moment: str, in_utc: bool, in_new_york: bool
) -> None:
    assert in_quiet_hours(prefs(time_zone="UTC"), utc(moment)) is in_utc
    assert in_quiet_hours(prefs(time_zone="America/New_York"), utc(moment)) is in_new_york


def test_quiet_hours_follow_daylight_saving_time() -> None:
    # 02:30 UTC is 22:30 in New York in summer (EDT, UTC-4) but 21:30 in winter (EST).
    zone = prefs(time_zone="America/New_York")
    assert in_quiet_hours(zone, utc("2024-07-15 02:30"))
    assert not in_quiet_hours(zone, utc("2024-01-15 02:30"))


def test_quiet_hours_within_one_day_start_inclusive_and_end_exclusive() -> None:
    day = prefs(quiet_start="09:00", quiet_end="17:30", time_zone="Europe/Berlin")
    assert not in_quiet_hours(day, utc("2024-01-15 07:59"))  # 08:59 in Berlin
    assert in_quiet_hours(day, utc("2024-01-15 08:00"))  # 09:00
    assert in_quiet_hours(day, utc("2024-01-15 16:29"))  # 17:29
    assert not in_quiet_hours(day, utc("2024-01-15 16:30"))  # 17:30


def test_quiet_hours_that_are_off_or_empty_or_in_an_unknown_zone_never_hold_back() -> None:
    night = utc("2024-01-16 03:30")
    assert not in_quiet_hours(prefs(quiet_hours=False), night)
    assert not in_quiet_hours(prefs(quiet_start="03:00", quiet_end="03:00"), night)
    assert not in_quiet_hours(prefs(time_zone="Mars/Olympus_Mons"), night)


def test_without_saved_preferences_everything_notifies_at_any_hour() -> None:
    for kind in ("reply", "mention", "status", "moderation", "test"):
        assert wants(None, kind, utc("2024-01-16 03:30"))


@pytest.mark.parametrize(
    ("turned_off", "kind"),
    [("replies", "reply"), ("mentions", "mention"), ("status_changes", "status"),
     ("moderation", "moderation")],
)  # fmt: skip
def test_a_kind_turned_off_never_notifies_and_the_others_still_do(
    turned_off: str, kind: str
) -> None:
    noon = utc("2024-01-16 12:00")
    choice = prefs(quiet_hours=False, **{turned_off: False})
    assert not wants(choice, kind, noon)
    others = {"reply", "mention", "status", "moderation"} - {kind}
    assert all(wants(choice, other, noon) for other in others)
    assert wants(prefs(replies=False, mentions=False, status_changes=False, moderation=False),
                 "test", noon), "a test notification is always wanted"  # fmt: skip


def test_in_quiet_hours_only_mentions_and_moderator_alerts_come_through_if_allowed() -> None:
    night = utc("2024-01-16 03:30")
    allowed = prefs(urgent_in_quiet_hours=True)
    assert [
        k for k in ("reply", "status", "mention", "moderation") if wants(allowed, k, night)
    ] == [
        "mention",
        "moderation",
    ]
    strict = prefs(urgent_in_quiet_hours=False)
    assert not any(wants(strict, k, night) for k in ("reply", "status", "mention", "moderation"))
    assert wants(strict, "test", night), "a test the user asked for comes through anyway"
    assert not wants(prefs(mentions=False), "mention", night), "off stays off in quiet hours"


async def test_saved_preferences_round_trip_through_the_action(people: dict[str, User]) -> None:
    saved = await save_preferences(people["weber"], {**QUIET, "time_zone": "America/New_York"})
    loaded = await NotificationSettings.get(user_id=people["weber"].id)
    assert (loaded.quiet_start, loaded.quiet_end, loaded.time_zone) == (
        "22:00",
        "07:00",
        "America/New_York",
    )
    assert loaded.urgent_in_quiet_hours is False, "an unticked box is a no"
    assert in_quiet_hours(saved, utc("2024-01-16 03:30"))
    assert not in_quiet_hours(saved, utc("2024-01-15 23:00"))


# -- recipients and preferences together, as the worker applies them ---------------------------


async def jobs_after_expanding(settings: Settings) -> dict[str, set[str]]:
    """Expand every pending intent like the push worker; return {handle: kinds queued}."""
    keys = load_or_create(settings.data_dir, "", "mailto:ops@nordlicht.example")
    worker = PushWorker(PushConfig(keys, allowed_hosts(settings), PUSH_PREFIX, 1))
    await worker.expand_intents()
    queued: dict[str, set[str]] = {}
    for job in await PushJob.all().prefetch_related("user"):
        queued.setdefault(handle_of(job.user), set()).add(job.kind)
    await PushJob.all().delete()
    return queued


async def with_device(settings: Settings, user: User) -> None:
    await save_subscription(
        settings.with_overrides(push_test_endpoint_prefix=PUSH_PREFIX), user,
        PUSH_PREFIX + handle_of(user), "B" + "A" * 86, "A" * 22, "phone",
    )  # fmt: skip


async def test_a_follower_who_turned_off_mentions_still_hears_about_the_reply(
    db: Settings, people: dict[str, User]
) -> None:
    thread = await thread_by(people["weber"])
    await reply(people["mira"], thread, "Billing here.")
    await with_device(db, people["mira"])
    await save_preferences(people["mira"], {"replies": "1", "status_changes": "1"})
    await jobs_after_expanding(db)
    await reply(people["jan"], thread, "@mira the refund is approved")
    assert await jobs_after_expanding(db) == {"mira": {"reply"}}
    await save_preferences(people["mira"], {"status_changes": "1"})  # replies off too
    await reply(people["jan"], thread, "@mira and the fee as well")
    assert await jobs_after_expanding(db) == {}


async def test_quiet_hours_hold_back_a_reply_but_let_a_mention_through_when_allowed(
    db: Settings, people: dict[str, User]
) -> None:
    thread = await thread_by(people["weber"])
    await with_device(db, people["weber"])
    await jobs_after_expanding(db)
    always = {**QUIET, "quiet_start": "00:00", "quiet_end": "23:59", "time_zone": "UTC"}
    # Quiet around the clock but for the last minute of the day: skip that minute.
    if datetime.now(UTC).strftime("%H:%M") == "23:59":
        pytest.skip("the one minute of the day outside these quiet hours")
    await save_preferences(people["weber"], {**always, "urgent_in_quiet_hours": "1"})
    await reply(people["jan"], thread, "Plain reply at night")
    assert await jobs_after_expanding(db) == {}
    await reply(people["jan"], thread, "@weber urgent: please open the door")
    assert await jobs_after_expanding(db) == {"weber": {"mention"}}
    await save_preferences(people["weber"], always)  # mentions held back as well
    await reply(people["jan"], thread, "@weber another one")
    assert await jobs_after_expanding(db) == {}


async def test_a_batch_whose_mentions_reach_no_device_is_dropped_and_one_that_does_is_kept(
    db: Settings, people: dict[str, User]
) -> None:
    thread = await thread_by(people["weber"])
    await with_device(db, people["jana"])  # neither follows the thread
    await jobs_after_expanding(db)
    # "@ts" and "@mira" are mentions, but of nobody or nobody with a device: the cheap check
    # drops the batch without working out each intent's recipients.
    await reply(people["tom"], thread, "Sent @ts=1700000000, cc @mira")
    assert await jobs_after_expanding(db) == {}
    assert await NotificationIntent.all().count() == 0
    await reply(people["tom"], thread, "Could @field-service look?")  # a team handle
    await reply(people["tom"], thread, "Or @jana alone")
    assert await jobs_after_expanding(db) == {"jana": {"mention"}}
