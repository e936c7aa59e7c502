"""Notifications: each person's settings, their push devices, intents and push jobs."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message, Thread


class NotificationSettings(Model):
    """A user's push preferences: kinds, quiet hours in their own time zone."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="notification_settings", on_delete=fields.CASCADE,
        primary_key=True,
    )  # fmt: skip
    user_id: str
    replies = fields.BooleanField(default=True)
    mentions = fields.BooleanField(default=True)
    status_changes = fields.BooleanField(default=True)
    moderation = fields.BooleanField(default=True)  # moderators only
    new_questions = fields.BooleanField(default=True)  # staff: for my team, or while on duty
    assignments = fields.BooleanField(default=True)  # staff: a question assigned to me/my team
    escalations = fields.BooleanField(default=True)  # moderators, team leads: long waits
    quiet_hours = fields.BooleanField(default=False)
    quiet_start = fields.CharField(max_length=5, default="22:00")  # HH:MM, user's time zone
    quiet_end = fields.CharField(max_length=5, default="07:00")
    time_zone = fields.CharField(max_length=64, default="Europe/Berlin")
    urgent_in_quiet_hours = fields.BooleanField(default=True)  # mentions and moderator alerts
    # Staff: working hours, in the same time zone. Outside them no routine desk alert (a new
    # question) arrives: the desk counts them as not on duty.
    work_hours = fields.BooleanField(default=False)
    work_start = fields.CharField(max_length=5, default="08:00")
    work_end = fields.CharField(max_length=5, default="17:00")
    work_days = fields.CharField(max_length=7, default="12345")  # ISO weekdays, 1 = Monday
    # Notifications by e-mail (EmailChoice; "" = the default for the person's role: customers
    # get mail while they have no push device, staff none, as they work in the app).
    email = fields.CharField(max_length=16, default="")

    class Meta:
        table = "notification_settings"


class EmailChoice(StrEnum):
    """When notifications also go out by e-mail (push/mailing.py)."""

    NO_DEVICE = "no_device"  # only while the person has no device for push
    ALWAYS = "always"
    NEVER = "never"


class PushSubscription(Model):
    """One device's Web Push subscription. An endpoint belongs to one user at a time."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    user_id: str
    endpoint = fields.CharField(max_length=1024, unique=True)
    p256dh = fields.CharField(max_length=128)
    auth = fields.CharField(max_length=64)
    label = fields.CharField(max_length=80, default="")
    # The device's own language when it subscribed (one we speak, "" if it said none): pushes
    # use it while the person's setting is "as in the browser" (User.language == "").
    language = fields.CharField(max_length=8, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_delivered_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, default="")
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "push_subscriptions"


class PushJobState(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"  # gave up; the reason is on the job and the device


class PushJob(Model):
    """A notification to deliver to one device, durable across restarts."""

    id = fields.BigIntField(primary_key=True)
    subscription: fields.ForeignKeyRelation[PushSubscription] = fields.ForeignKeyField(
        "models.PushSubscription", related_name="jobs", on_delete=fields.CASCADE
    )
    subscription_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_jobs", on_delete=fields.CASCADE
    )
    user_id: str
    kind = fields.CharField(max_length=16)  # reply | mention | status | moderation | test
    thread: fields.ForeignKeyNullableRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="push_jobs", null=True, on_delete=fields.CASCADE
    )
    thread_id: str | None
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="push_jobs", null=True, on_delete=fields.CASCADE
    )
    message_id: str | None
    state = fields.CharEnumField(PushJobState, max_length=8, default=PushJobState.QUEUED)
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(auto_now_add=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    outcome = fields.CharField(max_length=200, default="")

    class Meta:
        table = "push_jobs"
        # Due jobs in order, and the newer jobs for a device and thread that merge older ones.
        indexes = (("state", "not_before"), ("subscription_id", "thread_id", "state"))


class NotificationIntent(Model):
    # No semicolons in model docstrings: tortoise turns them into table comments, and a
    # semicolon there splits the SQLite schema script (tortoise-orm 1.1).
    """Something happened that may notify people. Written in the same transaction as the
    change, expanded into PushJobs by the push worker (so a crash between loses nothing)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # reply | status | moderation
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="notification_intents", on_delete=fields.CASCADE
    )
    thread_id: str
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="notification_intents", null=True,
        on_delete=fields.CASCADE,
    )  # fmt: skip
    message_id: str | None
    actor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notification_intents", on_delete=fields.CASCADE
    )
    actor_id: str
    # Who had the thread open on the server that recorded this (space-separated user ids):
    # they saw it happen live, so replies and mentions do not buzz their phones.
    viewers = fields.TextField(default="")
    # A worker expanding it holds it until then, and records the last device it queued a job
    # for (jobs are queued in device order, a batch per transaction).
    claimed_until = fields.DatetimeField(null=True)
    expanded_upto = fields.CharField(max_length=16, default="")
    # Its e-mail items are written (push/mailing.py): once, before its push jobs.
    mailed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notification_intents"
