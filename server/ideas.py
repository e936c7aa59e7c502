"""Reads about ideas: the board (sorted, filtered, searched, paged), an idea for a viewer,
the roadmap; and what a tag may be, for writing and filtering alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.connection import get_connection

from server import terms
from server.errors import ActionError
from server.i18n import N_
from server.models import (
    Idea,
    IdeaStatus,
    IdeaTag,
    IdeaVote,
    Thread,
    ThreadKind,
    User,
    Visibility,
)
from server.queries import is_id, thread_for, threads_visible_to
from server.terms import Query
from server.txscript import dialect_sql

# Statuses that take no more votes (nor take any back): the idea is settled. Fider does the
# same for completed, declined and duplicate ideas; the votes it had stay and are shown.
CLOSED = frozenset({IdeaStatus.DONE, IdeaStatus.DECLINED, IdeaStatus.DUPLICATE})

TAGS_MAX = 5  # more tags than this stop meaning anything on a card
TAG_MAX_CHARS = 30  # the column (IdeaTag.tag)
TAG_RE = re.compile(r"[^\W_](?:[^\W_]|-)*")  # letters and digits, hyphens inside
TAG_SPLIT_RE = re.compile(r"[\s,]+")


def clean_tag(value: str) -> str:
    """Return a tag as it is stored (lower case, without a leading #), or a clear error."""
    tag = value.strip().lstrip("#").lower()
    if not TAG_RE.fullmatch(tag):
        raise ActionError(
            "invalid_tag",
            N_("a tag is letters, digits and hyphens, not {value!r:.40}"),
            value=value,
        )
    if len(tag) > TAG_MAX_CHARS:
        raise ActionError(
            "tag_too_long",
            N_("the tag {value!r:.40} is longer than {limit} characters"),
            value=value,
            limit=TAG_MAX_CHARS,
        )
    return tag


def clean_tags(value: object) -> list[str]:
    """Return the tags a form or request gives (a text separated by commas or spaces, or a
    list), cleaned, each once, in the order given; at most TAGS_MAX."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        given = [t for t in TAG_SPLIT_RE.split(value) if t]
    elif isinstance(value, list | tuple) and all(isinstance(t, str) for t in value):
        given = [t for t in value if t.strip()]
    else:
        raise ActionError("invalid_tags", N_("tags must be text, not {value!r:.40}"), value=value)
    tags = list(dict.fromkeys(clean_tag(t) for t in given))
    if len(tags) > TAGS_MAX:
        raise ActionError(
            "too_many_tags",
            N_("an idea has at most {limit} tags, not {count}"),
            limit=TAGS_MAX,
            count=len(tags),
        )
    return tags


# -- the board -----------------------------------------------------------------------------

PAGE = 20
TRENDING_DAYS = 30  # "trending": votes cast in the last 30 days
SORTS = ("top", "trending", "new")
# What the board shows unless asked: ideas still in play (not done, declined or merged).
OPEN_STATUSES = (
    IdeaStatus.NEW, IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS,
)  # fmt: skip
STATUS_FILTERS = ("open", "all", *(s.value for s in IdeaStatus))


@dataclass(frozen=True)
class Filters:
    """What the board is asked for: its sort, a status (or "open", "all"), a tag, words."""

    sort: str = "top"
    status: str = "open"
    tag: str = ""
    q: str = ""


def clean_filters(params: dict[str, str]) -> Filters:
    """Read the board's filters from a query string; an unknown value is a clear error."""
    sort = params.get("sort") or "top"
    if sort not in SORTS:
        raise ActionError(
            "invalid_sort", N_("sort must be one of {allowed}, not {value!r:.40}"),
            allowed=", ".join(SORTS), value=sort,
        )  # fmt: skip
    status = params.get("status") or "open"
    if status not in STATUS_FILTERS:
        raise ActionError(
            "invalid_status", N_("status must be one of {allowed}, not {value!r:.40}"),
            allowed=", ".join(STATUS_FILTERS), value=status,
        )  # fmt: skip
    tag = clean_tag(params["tag"]) if params.get("tag") else ""
    return Filters(sort, status, tag, params.get("q", "").strip())


@dataclass(frozen=True)
class Card:
    """An idea as one viewer sees it on the board."""

    thread_id: str
    idea_id: str
    title: str
    status: IdeaStatus
    votes: int
    replies: int
    created_at: datetime
    tags: tuple[str, ...] = ()
    voted: bool = False
    hidden: bool = False
    seq: int = 0  # its thread's public event number: a live count older than it is stale

    @property
    def open_to_votes(self) -> bool:
        return self.status not in CLOSED


@dataclass(frozen=True)
class Board:
    """One page of the board, and the cursor of the next (None: the last page)."""

    cards: list[Card]
    next: str | None = None


_I, _T = Idea._meta.db_table, Thread._meta.db_table
_TAGS, _VOTES = IdeaTag._meta.db_table, IdeaVote._meta.db_table
_COLUMNS = (
    "i.id AS idea_id, i.thread_id, i.status, i.votes, i.created_at, t.title, "
    "t.public_messages, t.staff_messages, t.hidden_at, t.public_seq"
)
# Keyset paging (the cursor: the last card's idea): as fast at page 500 as at page 1, and a
# vote meanwhile moves a card without repeating or skipping the others.
# The first comparison lets the sort's index start at the cursor; the row value decides ties.
_ORDER = {
    "top": ("i.votes DESC, i.created_at DESC, i.id DESC",
            f"i.votes <= (SELECT votes FROM {_I} WHERE id = ?) AND "  # noqa: S608
            "(i.votes, i.created_at, i.id) < "
            f"(SELECT votes, created_at, id FROM {_I} WHERE id = ?)"),  # noqa: S608
    "new": ("i.created_at DESC, i.id DESC",
            f"i.created_at <= (SELECT created_at FROM {_I} WHERE id = ?) AND "  # noqa: S608
            f"(i.created_at, i.id) < (SELECT created_at, id FROM {_I} WHERE id = ?)"),
}  # fmt: skip


def _visible(viewer: User, where: list[str], params: list[Any]) -> None:
    """Keep to the ideas the viewer may see, as threads_visible_to does."""
    where.append("t.kind = ?")
    params.append(ThreadKind.IDEA.value)
    if not viewer.is_staff:
        where += ["t.visibility = ?", "(t.hidden_at IS NULL OR t.author_id = ?)"]
        params += [Visibility.PUBLIC.value, viewer.id]


def _filtered(
    viewer: User, filters: Filters, query: Query, postgres: bool
) -> tuple[list[str], list[Any]]:
    where = ["t.id = i.thread_id"]
    params: list[Any] = []
    _visible(viewer, where, params)
    # SQLite would fetch every open idea by the status index and sort them all; read down
    # the sort's own index instead and stop at a page ("+": no index for this term). Only
    # one status by votes has an index of its own: (status, votes).
    unindexed = "i.status" if postgres else "+i.status"
    if filters.status == "open":
        where.append(f"{unindexed} IN ({', '.join('?' * len(OPEN_STATUSES))})")
        params += [s.value for s in OPEN_STATUSES]
    elif filters.status != "all":
        where.append(f"{'i.status' if filters.sort == 'top' else unindexed} = ?")
        params.append(filters.status)
    if filters.tag:  # a filter, not a way in: most tags are on many ideas
        column = "i.id" if postgres else "+i.id"
        where.append(f"{column} IN (SELECT idea_id FROM {_TAGS} WHERE tag = ?)")  # noqa: S608
        params.append(filters.tag)
    if query:  # words of the title, as search finds them (server/terms.py)
        if postgres:
            where.append("t.search @@ to_tsquery('simple', ?)")
            params.append(terms.tsquery(query))
        else:
            where.append(f"t.rowid IN (SELECT rowid FROM {_T}_fts WHERE {_T}_fts MATCH ?)")  # noqa: S608
            params.append(terms.fts5_match(query))
    return where, params


def _statement(
    viewer: User, filters: Filters, query: Query, after: str | None, postgres: bool, now: datetime
) -> tuple[str, list[Any]]:
    where, params = _filtered(viewer, filters, query, postgres)
    if filters.sort == "trending":
        since = now - timedelta(days=TRENDING_DAYS)
        recent = (
            f"SELECT idea_id, COUNT(*) AS recent FROM {_VOTES} "  # noqa: S608
            "WHERE created_at >= ? GROUP BY idea_id"
        )
        head = (
            f"SELECT {_COLUMNS}, r.recent FROM ({recent}) r "  # noqa: S608
            f"JOIN {_I} i ON i.id = r.idea_id CROSS JOIN {_T} t"
        )
        params = [since, *params]
        order = "r.recent DESC, i.id DESC"
        if after is not None:
            recent_after, _, idea_after = after.partition(".")
            where.append("(r.recent < ? OR (r.recent = ? AND i.id < ?))")
            params += [int(recent_after), int(recent_after), idea_after]
    else:
        # CROSS JOIN: SQLite keeps ideas outside (their sort index drives the page);
        # PostgreSQL plans it as the inner join it is.
        head = f"SELECT {_COLUMNS}, 0 AS recent FROM {_I} i CROSS JOIN {_T} t"  # noqa: S608
        order, after_cursor = _ORDER[filters.sort]
        if after is not None:
            where.append(after_cursor)
            params += [after, after]
    conditions = " AND ".join(where)
    return f"{head} WHERE {conditions} ORDER BY {order} LIMIT ?", [*params, PAGE + 1]  # noqa: S608


def _cursor_ok(sort: str, after: str) -> bool:
    if sort != "trending":
        return is_id(after)
    count, _, idea = after.partition(".")
    return count.isdigit() and len(count) < 10 and is_id(idea)


async def board(viewer: User, filters: Filters, after: str | None = None) -> Board:
    """One page of the ideas the viewer may see, as filtered and sorted; `after`: the cursor
    of the page before. Words are searched in titles (a word being typed as a beginning)."""
    if after is not None and not _cursor_ok(filters.sort, after):
        raise ActionError("invalid_cursor", N_("this page link is not valid: {value!r:.40}"),
                          value=after)  # fmt: skip
    query = terms.parse(filters.q, typing=True) if filters.q else Query()
    if filters.q and not query:
        return Board([])  # only punctuation: nothing to search for
    conn = get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    sql, params = _statement(viewer, filters, query, after, postgres, datetime.now(UTC))
    rows = await conn.execute_query_dict(dialect_sql(conn, sql), params)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cards = await _cards(viewer, rows)
    following = None
    if more and rows:
        last = rows[-1]
        idea = str(last["idea_id"])
        following = f"{int(last['recent'])}.{idea}" if filters.sort == "trending" else idea
    return Board(cards, following)


async def _cards(viewer: User, rows: list[dict[str, Any]]) -> list[Card]:
    ids = [str(r["idea_id"]) for r in rows]
    tags: dict[str, list[str]] = {}
    voted: set[str] = set()
    if ids:
        for idea_id, tag in (
            await IdeaTag.filter(idea_id__in=ids).order_by("tag").values_list("idea_id", "tag")
        ):
            tags.setdefault(str(idea_id), []).append(str(tag))
        voted = {
            str(v)
            for v in await IdeaVote.filter(idea_id__in=ids, user_id=viewer.id).values_list(
                "idea_id", flat=True
            )
        }
    cards = []
    for r in rows:
        messages = r["staff_messages"] if viewer.is_staff else r["public_messages"]
        created = r["created_at"]
        if isinstance(created, str):  # SQLite hands back text
            created = datetime.fromisoformat(created)
        idea_id = str(r["idea_id"])
        cards.append(
            Card(
                str(r["thread_id"]),
                idea_id,
                str(r["title"]),
                IdeaStatus(r["status"]),
                int(r["votes"]),
                max(0, int(messages) - 1),
                created,
                tuple(tags.get(idea_id, ())),
                idea_id in voted,
                r["hidden_at"] is not None,
                int(r["public_seq"]),
            )
        )
    return cards


async def tags_in_use(viewer: User, limit: int = 30) -> list[str]:
    """The tags most ideas the viewer may see carry, A to Z (the board offers them)."""
    where: list[str] = []
    params: list[Any] = []
    _visible(viewer, where, params)
    sql = (
        f"SELECT g.tag, COUNT(*) AS n FROM {_TAGS} g JOIN {_I} i ON i.id = g.idea_id "  # noqa: S608
        f"JOIN {_T} t ON t.id = i.thread_id WHERE {' AND '.join(where)} "
        "GROUP BY g.tag ORDER BY n DESC, g.tag LIMIT ?"
    )
    conn = get_connection("default")
    rows = await conn.execute_query_dict(dialect_sql(conn, sql), [*params, limit])
    return sorted(str(r["tag"]) for r in rows)


async def card_for(viewer: User, thread_id: str) -> Card | None:
    """One idea's card as the viewer sees it on the board (None: not one they may see)."""
    where: list[str] = []
    params: list[Any] = []
    _visible(viewer, where, params)
    sql = (
        f"SELECT {_COLUMNS}, 0 AS recent FROM {_I} i JOIN {_T} t ON t.id = i.thread_id "  # noqa: S608
        f"WHERE i.thread_id = ? AND {' AND '.join(where)}"
    )
    conn = get_connection("default")
    rows = await conn.execute_query_dict(dialect_sql(conn, sql), [thread_id, *params])
    cards = await _cards(viewer, rows)
    return cards[0] if cards else None


async def idea_threads(viewer: User) -> list[Thread]:
    """Every idea's thread the viewer may see, oldest first (the demo votes on them)."""
    found = threads_visible_to(viewer).filter(kind=ThreadKind.IDEA)
    return await found.order_by("created_at", "id")


# -- one idea --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdeaState:
    """What an idea's panel shows: the same for everyone (who voted is not in it)."""

    thread_id: str
    idea_id: str
    status: IdeaStatus
    votes: int
    reason: str = ""
    merged_into: str | None = None  # the thread of the idea this one was merged into
    merged_title: str = ""
    tags: tuple[str, ...] = ()

    @property
    def open_to_votes(self) -> bool:
        return self.status not in CLOSED


async def idea_state(thread_id: str) -> IdeaState | None:
    """The idea of a thread as it is now, whoever asks (None: the thread is not an idea)."""
    idea = await Idea.get_or_none(thread_id=thread_id)
    if idea is None:
        return None
    tags = await IdeaTag.filter(idea_id=idea.id).order_by("tag").values_list("tag", flat=True)
    into, title = None, ""
    if idea.merged_into_id is not None:
        target = await Idea.get_or_none(id=idea.merged_into_id).prefetch_related("thread")
        if target is not None:
            into, title = target.thread_id, target.thread.title
    return IdeaState(
        thread_id, idea.id, idea.status, idea.votes, idea.reason, into, title,
        tuple(str(t) for t in tags),
    )  # fmt: skip


async def idea_for(viewer: User, thread_id: object) -> tuple[Thread, IdeaState, bool] | None:
    """An idea the viewer may see: its thread, its state, and whether the viewer voted."""
    thread = await thread_for(viewer, thread_id)
    if thread is None:
        return None
    state = await idea_state(thread.id)
    if state is None:
        return None
    voted = await IdeaVote.filter(idea_id=state.idea_id, user_id=viewer.id).exists()
    return thread, state, voted


# -- the roadmap -----------------------------------------------------------------------------

ROADMAP_COLUMNS = (IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS, IdeaStatus.DONE)
ROADMAP_PER_COLUMN = 30  # a roadmap is read at a glance; the board has the rest


async def roadmap(viewer: User) -> dict[IdeaStatus, list[Card]]:
    """The planned, in-progress and done ideas the viewer may see: most votes first (done:
    the latest first)."""
    conn = get_connection("default")
    found: dict[IdeaStatus, list[Card]] = {}
    for status in ROADMAP_COLUMNS:
        where: list[str] = []
        params: list[Any] = []
        _visible(viewer, where, params)
        where.append("i.status = ?")
        params.append(status.value)
        order = "i.status_changed_at DESC" if status == IdeaStatus.DONE else "i.votes DESC"
        sql = (
            f"SELECT {_COLUMNS}, 0 AS recent FROM {_I} i JOIN {_T} t ON t.id = i.thread_id "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY {order}, i.id DESC LIMIT ?"
        )
        rows = await conn.execute_query_dict(dialect_sql(conn, sql), [*params, ROADMAP_PER_COLUMN])
        found[status] = await _cards(viewer, rows)
    return found
