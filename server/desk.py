"""The care desk's reads, for staff: the queue of customer questions, its counts, the teams,
and how long answers took (medians per team and week).

A question is on the queue while a customer waits for staff (`Thread.waiting_since`): from the
moment it is asked, or a customer writes again after an answer, until staff reply in public.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from server.errors import ActionError
from server.i18n import N_
from server.models import Role, Team, Thread, ThreadKind, ThreadStatus, User, Visibility

FILTERS = ("open", "mine", "team", "unassigned")  # the queue's tabs, in order
QUEUE_MAX = 200  # rows a queue shows; oldest first, so nobody waiting is pushed off the end
MEDIAN_WEEKS = 4  # the desk shows the medians of the last four weeks


def questions() -> Any:
    """Every public question: what the desk looks after."""
    return Thread.filter(kind=ThreadKind.QUESTION, visibility=Visibility.PUBLIC)


async def team_of(user: User) -> Team | None:
    """Return the team an employee belongs to (by `User.team`), if it is one of the teams."""
    if not user.team:
        return None
    return await Team.get_or_none(name=user.team)


def _filtered(name: str, viewer: User, my_team: Team | None, now: datetime) -> Q:
    if name == "mine":
        claimed = Q(claimed_by_id=viewer.id, claimed_until__gt=now)
        return Q(assignee_id=viewer.id) | claimed
    if name == "team":
        return Q(team_id=my_team.id) if my_team is not None else Q(id__in=[])
    if name == "unassigned":
        return Q(assignee_id__isnull=True, team_id__isnull=True)
    return Q()


def clean_filter(value: object) -> str:
    if value in (None, ""):
        return "open"
    if value not in FILTERS:
        raise ActionError(
            "invalid_filter", N_("filter must be one of {allowed}, not {value!r:.20}"),
            allowed=", ".join(FILTERS), value=value,
        )  # fmt: skip
    return str(value)


def clean_status(value: object) -> ThreadStatus | None:
    if value in (None, ""):
        return None
    try:
        return ThreadStatus(str(value))
    except ValueError:
        raise ActionError(
            "invalid_status", N_("status must be one of {allowed}, not {value!r:.20}"),
            allowed=", ".join(s.value for s in ThreadStatus), value=value,
        ) from None  # fmt: skip


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A question on the desk, with the names the row shows."""

    thread: Thread
    asker: str
    assignee: str
    team: str
    claimed_by: str  # "" when no claim holds

    @property
    def waiting_since(self) -> datetime | None:
        return self.thread.waiting_since


async def queue(
    viewer: User, name: str = "open", status: ThreadStatus | None = None, team_id: str = ""
) -> list[QueueRow]:
    """Return the questions of one tab: waiting ones (or of `status`), oldest first."""
    now = datetime.now(UTC)
    query = questions().filter(_filtered(name, viewer, await team_of(viewer), now))
    if status is None:
        query = query.filter(waiting_since__isnull=False, status=ThreadStatus.OPEN)
        order = ("waiting_since", "id")
    else:
        query = query.filter(status=status)
        order = ("-public_activity_at", "id")
    if team_id:
        query = query.filter(team_id=team_id)
    threads = await query.order_by(*order).limit(QUEUE_MAX)
    ids = {t.author_id for t in threads} | {t.assignee_id for t in threads if t.assignee_id}
    ids |= {t.claimed_by_id for t in threads if t.claimed_by_id}
    names = dict(await User.filter(id__in=list(ids)).values_list("id", "display_name"))
    teams = dict(await Team.all().values_list("id", "name"))
    return [
        QueueRow(
            t,
            names.get(t.author_id, ""),
            names.get(t.assignee_id or "", ""),
            teams.get(t.team_id or "", ""),
            names.get(t.claimed_by_id or "", "")
            if t.claimed_until is not None and t.claimed_until > now
            else "",
        )  # fmt: skip
        for t in threads
    ]


async def counts(viewer: User) -> dict[str, int]:
    """Return how many questions wait in each tab."""
    now = datetime.now(UTC)
    my_team = await team_of(viewer)
    waiting = questions().filter(waiting_since__isnull=False, status=ThreadStatus.OPEN)
    return {
        name: await waiting.filter(_filtered(name, viewer, my_team, now)).count()
        for name in FILTERS
    }


async def teams() -> list[Team]:
    """Every team, by name."""
    return await Team.all().order_by("name")


async def assignable_staff() -> list[User]:
    """The employees a question can be assigned to: active staff, by name."""
    staff = User.exclude(role=Role.CUSTOMER).filter(deactivated_at__isnull=True)
    return await staff.order_by("display_name", "id")


@dataclass(frozen=True, slots=True)
class Medians:
    """How fast one team answered the questions asked in one week (minutes; None: none)."""

    team: str  # "" for questions routed to no team
    week: str  # ISO week, "2026-W49"
    questions: int
    first_response: float | None
    resolve: float | None


def _median_minutes(spans: list[timedelta]) -> float | None:
    if not spans:
        return None
    return round(statistics.median(s.total_seconds() for s in spans) / 60, 1)


async def medians(weeks: int = MEDIAN_WEEKS) -> list[Medians]:
    """Return the median first-response time and time to resolve per team and week, for the
    questions asked in the last `weeks` weeks (newest week first)."""
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    rows = (
        await questions()
        .filter(created_at__gte=since)
        .values_list("team_id", "created_at", "first_response_at", "resolved_at")
    )
    names = dict(await Team.all().values_list("id", "name"))
    groups: dict[tuple[str, str], list[tuple[datetime, Any, Any]]] = {}
    for team_id, created, first, resolved in rows:
        year, week, _ = created.isocalendar()
        key = (names.get(team_id or "", ""), f"{year}-W{week:02d}")
        groups.setdefault(key, []).append((created, first, resolved))
    found = [
        Medians(
            team,
            week,
            len(items),
            _median_minutes([f - c for c, f, _ in items if f is not None]),
            _median_minutes([r - c for c, _, r in items if r is not None]),
        )  # fmt: skip
        for (team, week), items in groups.items()
    ]
    by_team = sorted(found, key=lambda m: m.team)
    return sorted(by_team, key=lambda m: m.week, reverse=True)  # newest week first
