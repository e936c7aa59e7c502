"""Full-text search over what the searcher may see: thread titles, messages and staff notes.

Each searchable kind is one `Source`: its table, its index (SQLite FTS5 or PostgreSQL's
tsvector, migration 0011) and the rule that keeps a customer to what the thread pages show
them: public threads, not hidden (but their own), messages for everyone, not held (but their
own), never a hidden or deleted one. Staff find staff notes and hidden messages too (marked).
A new kind (posts, articles) is one more `Source`; the ranking, paging and snippets stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from markupsafe import Markup, escape
from tortoise.connection import get_connection

from server import terms
from server.i18n import N_
from server.models import (
    Article,
    Audience,
    Message,
    Role,
    Thread,
    ThreadStatus,
    User,
    Visibility,
)
from server.terms import Query, QueryError
from server.txscript import dialect_sql

PAGE = 20
PAGES_MAX = 10  # deeper than 200 results nobody reads; a better word does
SNIPPET_WORDS = 28
KINDS = ("thread", "message", "note", "article")
CANDIDATES = 2000  # newest matches ranked per kind: bounds a common word's cost


@dataclass(frozen=True)
class Filters:
    """Narrowing a search: one kind, a thread status, a team, an author, dates (inclusive)."""

    kind: str = ""
    status: str = ""
    team: str = ""
    author: str = ""
    space: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Hit:
    kind: str  # thread | message | note | article
    thread_id: str | None  # None: an article
    title: Markup  # the thread's title, highlighted where a thread hit matched it
    message_id: str | None
    author_id: str
    created_at: datetime
    status: str
    snippet: Markup
    hidden: bool  # a hidden message (staff only find it)
    score: float
    author_name: str = ""
    author_is_staff: bool = False
    url: str = ""  # where the hit opens


def clean_filters(params: dict[str, str]) -> Filters:
    """Read filters from a request's parameters; raise QueryError naming a bad value."""
    kind = params.get("kind", "")
    if kind and kind not in KINDS:
        raise QueryError(N_("There is no kind of result called {value}."), value=repr(kind))
    status = params.get("status", "")
    if status and status not in {s.value for s in ThreadStatus}:
        raise QueryError(N_("There is no status called {value}."), value=repr(status))
    return Filters(
        kind=kind, status=status, team=params.get("team", "")[:16],
        author=params.get("author", "")[:16], space=params.get("space", "")[:16],
        since=_day(params.get("since", "")), until=_day(params.get("until", "")),
    )  # fmt: skip


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(
            N_("A date is written like 2026-12-31, not {value}."), value=repr(value[:20])
        ) from None


@dataclass(frozen=True)
class Source:
    """One searchable kind: the rows it reads, how its index is asked, who sees what."""

    kind: str
    table: str
    text: str  # the column a snippet is cut from
    select: str  # columns in Hit order: id, thread_id, author_id, created_at, status, hidden

    def sql(
        self, postgres: bool, viewer: User, query: Query, filters: Filters, limit: int
    ) -> tuple[str, list[Any]]:
        """Return the statement for this kind, `?` placeholders. Only the newest CANDIDATES
        rows that match are ranked: a word in every other message costs the same as a rare one
        (and among that many, the newest are the likelier answer)."""
        if not query:  # no words, an author: their newest posts the viewer may see
            head = f"SELECT {self.select}, x.{self.text} AS text, 0 AS score FROM {self.table} x"  # noqa: S608
            params: list[Any] = []
            order = "x.created_at DESC"
        elif postgres:
            candidates = (
                f"SELECT id FROM {self.table} WHERE search @@ to_tsquery('simple', ?) "  # noqa: S608
                "ORDER BY created_at DESC LIMIT ?"
            )
            head = (
                f"SELECT {self.select}, x.{self.text} AS text, "  # noqa: S608
                "ts_rank_cd(x.search, to_tsquery('simple', ?)) AS score "
                f"FROM ({candidates}) c JOIN {self.table} x ON x.id = c.id"
            )
            match = terms.tsquery(query)
            params = [match, match, CANDIDATES]
            order = "score DESC"
        else:
            candidates = (
                f"SELECT rowid AS rid, -bm25({self.table}_fts) AS score FROM {self.table}_fts "  # noqa: S608
                f"WHERE {self.table}_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
            )
            head = (
                f"SELECT {self.select}, x.{self.text} AS text, c.score "  # noqa: S608
                f"FROM ({candidates}) c JOIN {self.table} x ON x.rowid = c.rid"
            )
            params = [terms.fts5_match(query), CANDIDATES]
            order = "score DESC"
        join, where, more = self.rules(viewer, filters)
        params += more
        conditions = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"{head} {join} {conditions} ORDER BY {order} LIMIT ?"
        return sql, [*params, limit]

    def rules(self, viewer: User, filters: Filters) -> tuple[str, list[str], list[Any]]:
        """Return the join, conditions and parameters that keep to what the viewer may see."""
        if self.kind == "article":
            return self.article_rules(viewer, filters)
        where: list[str] = []
        params: list[Any] = []
        thread = "x" if self.table == Thread._meta.db_table else "t"
        join = "" if thread == "x" else f"JOIN {Thread._meta.db_table} t ON t.id = x.thread_id"
        if not viewer.is_staff:
            where += [
                f"{thread}.visibility = ?",
                f"({thread}.hidden_at IS NULL OR {thread}.author_id = ?)",
            ]
            params += [Visibility.PUBLIC.value, viewer.id]
        if thread == "t":
            where.append("x.deleted_at IS NULL")
            audience = Audience.STAFF if self.kind == "note" else Audience.ALL
            where.append("x.audience = ?")
            params.append(audience.value)
            if not viewer.is_staff:
                where += ["x.hidden_at IS NULL", "(x.held_at IS NULL OR x.author_id = ?)"]
                params.append(viewer.id)
        if filters.status:
            where.append(f"{thread}.status = ?")
            params.append(filters.status)
        if filters.team:
            where.append(f"{thread}.team_id = ?")
            params.append(filters.team)
        if filters.author:
            where.append("x.author_id = ?")
            params.append(filters.author)
        if filters.space:
            where.append(f"{thread}.space_id = ?")
            params.append(filters.space)
        return join, where + _dates(filters, "x.created_at", params), params

    def article_rules(self, viewer: User, filters: Filters) -> tuple[str, list[str], list[Any]]:
        """Knowledge articles: customers find the public ones; a thread's status or team
        says nothing about an article, so such a filter leaves articles out."""
        where: list[str] = []
        params: list[Any] = []
        if not viewer.is_staff:
            where.append("x.public = ?")
            params.append(True)
        if filters.status or filters.team or filters.space:
            where.append("1 = 0")
        if filters.author:
            where.append("x.updated_by_id = ?")
            params.append(filters.author)
        return "", where + _dates(filters, "x.updated_at", params), params


def _dates(filters: Filters, column: str, params: list[Any]) -> list[str]:
    """Return conditions (adding their parameters) for the filters' first and last day."""
    where = []
    if filters.since:
        where.append(f"{column} >= ?")
        params.append(datetime.combine(filters.since, time(), UTC))
    if filters.until:
        where.append(f"{column} < ?")
        params.append(datetime.combine(filters.until + timedelta(days=1), time(), UTC))
    return where


MESSAGE_COLUMNS = "x.id, x.thread_id, x.author_id, x.created_at, t.status, x.hidden_at, t.title"
SOURCES = (
    Source(
        "thread", Thread._meta.db_table, "title",
        "NULL AS id, x.id AS thread_id, x.author_id, x.created_at, x.status, x.hidden_at, "
        "x.title",
    ),
    Source("message", Message._meta.db_table, "body", MESSAGE_COLUMNS),
    Source("note", Message._meta.db_table, "body", MESSAGE_COLUMNS),
    Source(
        "article", Article._meta.db_table, "body",
        "x.id, NULL AS thread_id, x.updated_by_id AS author_id, x.updated_at AS created_at, "
        "'' AS status, NULL AS hidden_at, x.title",
    ),
)  # fmt: skip


def index_statements(table: str, postgres: bool) -> list[str]:
    """Return the statements that index a table's `terms` column for search: on SQLite an
    FTS5 table kept in step by triggers, on PostgreSQL a generated tsvector with a GIN index.
    Migrations call this: change it only in ways that leave existing indexes valid."""
    if postgres:
        return [
            f"ALTER TABLE {table} ADD COLUMN search tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED",
            f"CREATE INDEX {table}_search ON {table} USING GIN (search)",
        ]
    return [
        f"CREATE VIRTUAL TABLE {table}_fts USING fts5(terms, content='{table}', "
        "content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
        f"CREATE TRIGGER {table}_fts_added AFTER INSERT ON {table} BEGIN "  # noqa: S608 - a table name of ours
        f"INSERT INTO {table}_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
        f"CREATE TRIGGER {table}_fts_removed AFTER DELETE ON {table} BEGIN "  # noqa: S608 - a table name of ours
        f"INSERT INTO {table}_fts({table}_fts, rowid, terms) "
        "VALUES ('delete', old.rowid, old.terms); END",
        f"CREATE TRIGGER {table}_fts_changed AFTER UPDATE OF terms ON {table} BEGIN "  # noqa: S608 - a table name of ours
        f"INSERT INTO {table}_fts({table}_fts, rowid, terms) "
        "VALUES ('delete', old.rowid, old.terms); "
        f"INSERT INTO {table}_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
        f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')",  # noqa: S608 - a table name of ours
    ]


def sources_for(viewer: User, filters: Filters) -> list[Source]:
    """Return the kinds a viewer searches: staff notes for staff alone."""
    chosen = [s for s in SOURCES if not filters.kind or s.kind == filters.kind]
    return [s for s in chosen if s.kind != "note" or viewer.is_staff]


async def search(viewer: User, query: Query, filters: Filters, page: int = 1) -> list[Hit]:
    """Return one page of the best hits the viewer may see, best first; without words but
    with an author, that person's newest posts (their page, server/views/people.py)."""
    if not query and not filters.author:
        return []
    page = max(1, min(page, PAGES_MAX))
    wanted = page * PAGE + 1  # one more: is there a next page?
    conn = get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    hits: list[Hit] = []
    for source in sources_for(viewer, filters):
        sql, params = source.sql(postgres, viewer, query, filters, wanted)
        for row in await conn.execute_query_dict(dialect_sql(conn, sql), params):
            hits.append(_hit(source, row, query))
    hits.sort(key=lambda h: (h.score, h.created_at), reverse=True)
    chosen = hits[(page - 1) * PAGE : page * PAGE + 1]
    names = {
        u.id: u
        for u in await User.filter(id__in={h.author_id for h in chosen}).only(
            "id", "display_name", "role"
        )
    }
    return [_named(h, names.get(h.author_id)) for h in chosen]


def _named(hit: Hit, author: User | None) -> Hit:
    if author is None:
        return hit
    return Hit(**{
        **hit.__dict__, "author_name": author.display_name,
        "author_is_staff": author.role != Role.CUSTOMER,
    })  # fmt: skip


def _hit(source: Source, row: dict[str, Any], query: Query) -> Hit:
    is_thread = source.kind == "thread"
    if source.kind == "article":
        url = f"/knowledge/{row['id']}"
    elif is_thread:
        url = f"/threads/{row['thread_id']}"
    else:
        url = f"/threads/{row['thread_id']}#msg-{row['id']}"
    created = row["created_at"]
    if isinstance(created, str):  # SQLite returns text through a raw query
        created = datetime.fromisoformat(created)
    return Hit(
        kind=source.kind,
        thread_id=row["thread_id"],
        title=highlight(row["title"], query)
        if source.kind in ("thread", "article")
        else escape(row["title"]),
        message_id=row["id"] if source.kind in ("message", "note") else None,
        author_id=row["author_id"],
        created_at=created,
        status=row["status"],
        snippet=Markup("") if is_thread else snippet(row["text"], query),
        hidden=row["hidden_at"] is not None,
        score=float(row["score"]),
        url=url,
    )


SPACE_RE = re.compile(r"\s+")


def highlight(text: str, query: Query) -> Markup:
    """Return a short text escaped, with the words the query found in <mark>."""
    return _marked(text, query, 0, len(text))


def snippet(text: str, query: Query) -> Markup:
    """Return the part of a text around its first found word, escaped, words in <mark>."""
    text = SPACE_RE.sub(" ", text).strip()
    found = [m for m in terms.WORD_RE.finditer(text)]
    first = next((i for i, m in enumerate(found) if terms.matches(m.group(), query)), 0)
    start_word = max(0, first - 6)
    end_word = min(len(found), start_word + SNIPPET_WORDS)
    start = found[start_word].start() if found and start_word else 0
    end = found[end_word - 1].end() if found and end_word < len(found) else len(text)
    marked = _marked(text, query, start, end)
    before = Markup("… ") if start else Markup("")
    return before + marked + (Markup(" …") if end < len(text) else Markup(""))


def _marked(text: str, query: Query, start: int, end: int) -> Markup:
    out: list[Markup] = []
    at = start
    for m in terms.WORD_RE.finditer(text, start, end):
        if terms.matches(m.group(), query):
            out.append(escape(text[at : m.start()]))
            out.append(Markup("<mark>") + escape(m.group()) + Markup("</mark>"))
            at = m.end()
    out.append(escape(text[at:end]))
    return Markup("").join(out)
