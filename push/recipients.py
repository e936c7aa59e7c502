"""Who hears about what: the people an intent's kind finds (push/audiences.py), never the one
who acted nor anyone who may not see it, then filtered by each person's preferences."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from push.audiences import Reader
from push.kinds import KINDS
from server.models import Message, NotificationIntent, NotificationSettings, Thread, User
from server.queries import visible_to

Candidate = tuple[Reader, tuple[str, ...]]


async def candidates(intent: NotificationIntent) -> list[Candidate]:
    """Return who an intent may notify, each with the kinds it could be, most specific first
    (a mentioned follower: mention, then reply), before preferences and quiet hours."""
    kind = KINDS.by_name.get(intent.kind)
    if kind is None or kind.recipients is None:
        return []
    thread = await Thread.get_or_none(id=intent.thread_id)
    if thread is None:
        return []
    message = await Message.get_or_none(id=intent.message_id) if intent.message_id else None
    chosen = await kind.recipients(intent, thread, message)
    chosen.pop(intent.actor_id, None)
    return [(r, k) for r, k in chosen.values() if visible_to(r, thread, message)]


async def recipients(intent: NotificationIntent) -> list[tuple[User, str]]:
    """Return (user, kind) pairs an intent notifies, before preferences and quiet hours."""
    found = await candidates(intent)
    users = await User.in_bulk([reader.id for reader, _ in found], "id")
    return [(users[reader.id], kinds[0]) for reader, kinds in found]


def _clock(value: str) -> time:
    hours, minutes = value.split(":", 1)
    return time(int(hours), int(minutes))


def in_quiet_hours(prefs: NotificationSettings, now: datetime) -> bool:
    """Tell whether `now` falls in the user's quiet hours, in the user's own time zone."""
    if not prefs.quiet_hours:
        return False
    try:
        local = now.astimezone(ZoneInfo(prefs.time_zone)).time()
        start, end = _clock(prefs.quiet_start), _clock(prefs.quiet_end)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # spans midnight, e.g. 22:00–07:00


def first_wanted(
    prefs: NotificationSettings | None, kinds: tuple[str, ...], now: datetime
) -> str | None:
    """Return the first of the kinds the user's preferences let through now, if any."""
    return next((kind for kind in kinds if wants(prefs, kind, now)), None)


def wants(prefs: NotificationSettings | None, name: str, now: datetime, quiet: bool = True) -> bool:
    """Apply a user's preferences for one kind of notification at this moment (`quiet`
    False: leave quiet hours out, for mail that waits for their end)."""
    kind = KINDS[name]
    if prefs is None or kind.preference is None:
        return True  # no settings yet, or a kind nobody turns off (a test)
    if not kind.enabled(prefs):
        return False
    if kind.routine and not on_duty(prefs, now):
        return False  # a routine desk alert waits for the queue, not for someone off duty
    if not quiet or not in_quiet_hours(prefs, now):
        return True
    return kind.urgent and prefs.urgent_in_quiet_hours


def quiet_hours_end(prefs: NotificationSettings, now: datetime) -> datetime:
    """Return when the quiet hours `now` falls in end (the next time the person's clock says
    quiet_end)."""
    try:
        zone = ZoneInfo(prefs.time_zone)
        end = _clock(prefs.quiet_end)
    except (ZoneInfoNotFoundError, ValueError):
        return now
    local = now.astimezone(zone)
    moment = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if moment <= local:
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def on_duty(prefs: NotificationSettings, now: datetime) -> bool:
    """Tell whether `now` falls in the person's working hours (always, if they keep none)."""
    if not prefs.work_hours:
        return True
    try:
        moment = now.astimezone(ZoneInfo(prefs.time_zone))
        start, end = _clock(prefs.work_start), _clock(prefs.work_end)
    except (ZoneInfoNotFoundError, ValueError):
        return True
    if str(moment.isoweekday()) not in prefs.work_days:
        return False
    local = moment.time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a night shift, e.g. 22:00–06:00
