"""Search (server/search.py) on SQLite FTS5 and PostgreSQL full-text search: the same data gives
the same hits on both, and nobody finds what the thread pages would not show them.

Where the engines differ: the *order* of hits with close scores (SQLite ranks with bm25,
PostgreSQL with ts_rank_cd) — tests compare sets, and order only where one hit is clearly
better on both. Which rows match, snippets and highlighting are the same: both index the stems
server/terms.py writes, and the snippet is cut in Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.messages import delete_message, edit_message, send_message
from server.actions.moderation import moderate
from server.actions.threads import start_thread, update_thread
from server.db import close_database, open_database
from server.models import Audience, Role, User
from server.search import Filters, Hit, clean_filters, search
from server.terms import QueryError, parse
from tests.conftest import NOT_LIVE, PASSWORD, make_settings, signup

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class World:
    aylin: User  # moderator
    jan: User  # employee
    weber: User  # customer
    tom: User  # customer
    ids: dict[str, str]  # what was written, by a short name


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        aylin = await create_user("aylin@nordlicht.example", "Aylin Kaya", PASSWORD,
                                  Role.MODERATOR)  # fmt: skip
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE)
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        tom = await create_user("tom@example.org", "Tom Becker", PASSWORD)
        ids: dict[str, str] = {}
        question, first, _ = await start_thread(
            NOT_LIVE, weber, "Zählerstand falsch abgelesen",
            "Mein Zähler zeigt einen falschen Zählerstand. <script>alert(1)</script>", "w-1",
        )  # fmt: skip
        ids["question"], ids["first"] = question.id, first.id
        note, _ = await send_message(NOT_LIVE, jan, question.id,
                                     "Interne Notiz: der Zähler wurde 2024 getauscht.", "j-1",
                                     Audience.STAFF)  # fmt: skip
        ids["note"] = note.id
        reply, _ = await send_message(NOT_LIVE, jan, question.id,
                                      "The meter readings were estimated; we will read it.",
                                      "j-2")  # fmt: skip
        ids["reply"] = reply.id
        internal, internal_first, _ = await start_thread(
            NOT_LIVE, jan, "Rollout neuer Zähler", "Die Zähler im Hafen kommen im März.", "j-3",
            visibility="internal",
        )  # fmt: skip
        ids["internal"], ids["internal_first"] = internal.id, internal_first.id
        spam, _ = await send_message(NOT_LIVE, tom, question.id, "Zähler billig kaufen!", "t-1")
        await moderate(NOT_LIVE, aylin, "message", spam.id, "hide", "spam")
        ids["spam"] = spam.id
        gone, _ = await send_message(NOT_LIVE, weber, question.id, "Zähler vergessen", "w-2")
        await delete_message(NOT_LIVE, weber, gone.id)
        ids["gone"] = gone.id
        hidden, _, _ = await start_thread(NOT_LIVE, tom, "Zähler Werbung", "Kauf hier", "t-2")
        await moderate(NOT_LIVE, aylin, "thread", hidden.id, "hide", "spam")
        ids["hidden_thread"] = hidden.id
        yield World(aylin, jan, weber, tom, ids)
    finally:
        await close_database()


async def found(
    user: User, text: str, filters: Filters | None = None, typing: bool = False
) -> list[Hit]:
    return await search(user, parse(text, typing=typing), filters or Filters())


def keys(w: World, hits: list[Hit]) -> set[str]:
    """Name each hit by what the world wrote: a message's name, or a thread's with "#"."""
    names = {v: k for k, v in w.ids.items()}
    return {names[h.message_id] if h.message_id else "#" + names[h.thread_id or ""] for h in hits}


async def test_a_customer_finds_public_words_only_and_staff_find_notes_and_hidden_ones(
    world: World,
) -> None:
    w = world
    customer = keys(w, await found(w.weber, "Zähler"))
    assert customer == {"first"}, "a compound is another word: Zählerstand is not Zähler"
    assert keys(w, await found(w.tom, "Zähler")) == {"first", "#hidden_thread"}, (
        "the author of a hidden thread still finds it, as they still see it"
    )
    staff = await found(w.jan, "Zähler")
    assert keys(w, staff) == {
        "first", "note", "#internal", "internal_first", "spam", "#hidden_thread"
    }  # fmt: skip
    assert "gone" not in keys(w, staff), "a deleted message is found by nobody"
    [spam] = [h for h in staff if h.message_id == w.ids["spam"]]
    assert spam.hidden and spam.kind == "message"
    [note] = [h for h in staff if h.message_id == w.ids["note"]]
    assert note.kind == "note" and note.author_is_staff and note.author_name == "Jan Petersen"


async def test_german_and_english_word_forms_find_each_other(world: World) -> None:
    w = world
    assert keys(w, await found(w.weber, "Zählerstände")) == {"#question", "first"}
    assert keys(w, await found(w.weber, "reading")) == {"reply"}, "readings"
    assert keys(w, await found(w.weber, "METERS estimate")) == {"reply"}


async def test_phrases_exclusions_alternatives_and_the_word_being_typed(world: World) -> None:
    w = world
    assert keys(w, await found(w.weber, '"falschen Zählerstand"')) == {"first"}
    assert keys(w, await found(w.weber, '"zeigt Zähler"')) == set(), "order counts"
    assert keys(w, await found(w.weber, "Zähler -abgelesen")) == {"first"}
    assert keys(w, await found(w.weber, "abgelesen OR meter")) == {"#question", "reply"}
    assert keys(w, await found(w.weber, "Zählerst", typing=True)) == {"#question", "first"}
    assert keys(w, await found(w.weber, "Zählerst")) == set(), "a finished word is a word"


async def test_snippets_are_escaped_and_mark_the_found_words(world: World) -> None:
    w = world
    [hit] = [h for h in await found(w.weber, "Zählerstände") if h.message_id]
    assert "<mark>Zählerstand</mark>" in hit.snippet and "<mark>Zähler</mark>" not in hit.snippet
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet
    [title] = [h for h in await found(w.weber, "Zählerstände") if not h.message_id]
    assert str(title.title) == "<mark>Zählerstand</mark> falsch abgelesen"


async def test_a_clearly_better_hit_comes_first_on_both_engines(world: World) -> None:
    w = world
    thread = w.ids["question"]
    await send_message(NOT_LIVE, w.jan, thread, "Hafen Hafen Hafen: alles zum Hafen.", "j-9")
    await send_message(NOT_LIVE, w.jan, thread, "Ein langer Text über vieles, " * 20
                       + "und einmal den Hafen.", "j-10")  # fmt: skip
    hits = await found(w.weber, "Hafen")
    assert len(hits) == 2 and hits[0].snippet.count("<mark>") == 4


async def test_filters_narrow_by_kind_status_team_author_and_dates(world: World) -> None:
    w = world
    assert keys(w, await found(w.jan, "Zähler", Filters(kind="note"))) == {"note"}
    assert keys(w, await found(w.weber, "Zähler", Filters(kind="note"))) == set()
    assert keys(w, await found(w.jan, "Zähler", Filters(kind="thread"))) == {
        "#internal", "#hidden_thread"
    }  # fmt: skip
    assert keys(w, await found(w.jan, "Zähler", Filters(author=w.tom.id))) == {
        "spam", "#hidden_thread"
    }  # fmt: skip
    await update_thread(NOT_LIVE, w.weber, w.ids["question"], status="resolved")
    resolved = await found(w.weber, "Zählerstand", Filters(status="resolved"))
    assert keys(w, resolved) == {"#question", "first"}
    assert await found(w.weber, "Zählerstand", Filters(status="open")) == []
    today = datetime.now(UTC).date()
    assert await found(w.weber, "Zähler", Filters(since=today + timedelta(days=1))) == []
    assert len(await found(w.weber, "Zählerstand", Filters(since=today, until=today))) == 2
    assert await found(w.weber, "Zähler", Filters(until=date(2020, 1, 1))) == []


def test_bad_filters_are_refused_naming_the_value() -> None:
    for params, value in (
        ({"kind": "article'"}, '"article\'"'),
        ({"status": "done"}, "'done'"),
        ({"since": "yesterday"}, "'yesterday'"),
    ):
        with pytest.raises(QueryError) as err:
            clean_filters(params)
        assert err.value.params == {"value": value}


async def test_edits_deletions_renames_and_moderation_reach_the_index_at_once(
    world: World,
) -> None:
    w = world
    first = w.ids["first"]
    await edit_message(NOT_LIVE, w.weber, first, "Die Anzeige ist dunkel.")
    assert keys(w, await found(w.weber, "Zählerstand")) == {"#question"}
    assert keys(w, await found(w.weber, "Anzeige")) == {"first"}
    await moderate(NOT_LIVE, w.aylin, "thread", w.ids["question"], "rename", "", "Display dunkel")
    assert keys(w, await found(w.weber, "Zählerstand")) == set()
    assert keys(w, await found(w.weber, "Display")) == {"#question"}
    await moderate(NOT_LIVE, w.aylin, "message", first, "hide", "off_topic")
    assert await found(w.weber, "Anzeige") == []
    await moderate(NOT_LIVE, w.aylin, "message", first, "restore")
    assert keys(w, await found(w.weber, "Anzeige")) == {"first"}
    await moderate(NOT_LIVE, w.aylin, "message", first, "move_to_note")
    assert await found(w.weber, "Anzeige") == [], "moved into a staff note"
    assert {h.kind for h in await found(w.jan, "Anzeige")} == {"note"}


async def test_paging_goes_ten_pages_deep_and_says_whether_there_is_more(world: World) -> None:
    w = world
    thread = w.ids["question"]
    for i in range(25):
        await send_message(NOT_LIVE, w.weber, thread, f"Wasserzähler Nummer {i}", f"p-{i}")
    first = await search(w.weber, parse("Wasserzähler"), Filters(), page=1)
    second = await search(w.weber, parse("Wasserzähler"), Filters(), page=2)
    assert len(first) == 21, "a page and one more: there is a next page"
    assert len(second) == 5
    assert not {h.message_id for h in first[:20]} & {h.message_id for h in second}
    assert await search(w.weber, parse("Wasserzähler"), Filters(), page=10_000) == []


def test_the_search_page_answers_bad_input_with_a_sentence_and_hides_notes(
    client: TestClient, fast_passwords: None
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    empty = client.get("/search")
    assert empty.status_code == 200 and "Type a word" in empty.text
    long = client.get("/search", params={"q": "x" * 10_000})
    assert long.status_code == 400 and "at most 200 characters; this has 10,000" in long.text
    assert "x" * 1001 not in long.text
    fragment = client.get("/search", params={"q": "x" * 300}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "at most 200 characters" in fragment.text
    assert "<html" not in fragment.text
    for text in ('NEAR(a b) "x', "a* ^b col:x", "'; DROP TABLE threads; --", "-only", "OR"):
        answer = client.get("/search", params={"q": text})
        assert answer.status_code == 200, text
    bad = client.get("/search", params={"q": "x", "kind": "note'"})
    assert bad.status_code == 400 and "no kind of result called" in bad.text
    german = client.get("/search", params={"q": "x" * 10_000}, headers={"Accept-Language": "de"})
    assert (
        german.status_code == 400 and "höchstens 200 Zeichen; diese Suche hat 10.000" in german.text
    )


def test_every_searchable_table_keeps_its_index_in_step_after_all_migrations(
    sqlite_url: str,
) -> None:
    """A migration that rebuilds a table on SQLite (altering a column) drops the triggers that
    keep its search index in step; 0014 makes them again for threads. This catches the next."""
    import sqlite3

    path = sqlite_url.removeprefix("sqlite://")
    with sqlite3.connect(path) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                    "WHERE type = 'trigger'")}  # fmt: skip
    for table in ("messages", "threads", "articles"):
        for kind in ("added", "removed", "changed"):
            assert f"{table}_fts_{kind}" in triggers, (table, kind)
