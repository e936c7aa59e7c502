"""Knowledge articles on SQLite and PostgreSQL: every save is a numbered revision; an edit from
an older revision never overwrites a colleague's (not even two saves at once); restoring, the
difference between revisions, promotion of an answered question without the customer's
details, and who may read, edit and find what."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.knowledge import create_article, edit_article, restore_revision
from server.actions.messages import send_message
from server.actions.threads import start_thread, update_thread
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.knowledge import article_for, difference, draft_from, revisions_of
from server.markdown import contents_of, render_article
from server.models import Article, Revision, Role, User
from server.protocol import KNOWLEDGE_CHANNEL
from server.publisher import Publisher
from server.search import Filters, search
from server.terms import parse
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings, signup
from tests.test_desk import Recorder

pytestmark = pytest.mark.usefixtures("fast_passwords")

TEXT = "## Ablesen\n\nLicht an.\n\n## Melden\n\nWert 1.8.0 melden."


@dataclass
class World:
    jan: User
    mira: User
    weber: User
    article: str  # public, by Jan
    internal: str  # staff only, by Mira


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE)
        mira = await create_user("mira@nordlicht.example", "Mira Hoffmann", PASSWORD,
                                 Role.EMPLOYEE)  # fmt: skip
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        article = await create_article(NOT_LIVE, jan, "Smart Meter ablesen", TEXT, True)
        internal = await create_article(NOT_LIVE, mira, "Rollout intern", "Nur für uns.")
        yield World(jan, mira, weber, article.id, internal.id)
    finally:
        await close_database()


async def test_each_save_is_a_numbered_revision_and_the_same_text_is_none(world: World) -> None:
    w = world
    edited = await edit_article(NOT_LIVE, w.mira, w.article, "Smart Meter ablesen",
                                TEXT + "\n\nMit Taschenlampe.", True, 1, "Tipp")  # fmt: skip
    assert edited.revision == 2 and edited.updated_by_id == w.mira.id
    same = await edit_article(NOT_LIVE, w.jan, w.article, edited.title, edited.body, True, 2)
    assert same.revision == 2, "saving what is there is no new revision"
    revisions = await revisions_of(edited)
    assert [(r.number, r.author.display_name, r.based_on, r.note) for r in revisions] == [
        (2, "Mira Hoffmann", 1, "Tipp"), (1, "Jan Petersen", 0, "")
    ]  # fmt: skip


async def test_an_edit_from_an_older_revision_never_overwrites_and_says_so(world: World) -> None:
    w = world
    await edit_article(NOT_LIVE, w.mira, w.article, "Neu", TEXT, True, 1)
    with pytest.raises(ActionError) as err:
        await edit_article(NOT_LIVE, w.jan, w.article, "Meins", "Mein Text", True, 1)
    assert err.value.code == "edit_conflict" and err.value.status == 409
    assert "someone saved revision 2" in err.value.message
    article = await Article.get(id=w.article)
    assert (article.title, article.revision) == ("Neu", 2)
    for base, code in (("3", "invalid"), ("x", "invalid"), ("0", "invalid"), (None, "invalid")):
        with pytest.raises(ActionError) as err:
            await edit_article(NOT_LIVE, w.jan, w.article, "Meins", "Mein Text", True, base)
        assert err.value.code == code
    assert await Revision.filter(article_id=w.article).count() == 2


async def test_two_saves_from_one_revision_at_once_store_exactly_one(world: World) -> None:
    w = world
    results = await asyncio.gather(
        edit_article(NOT_LIVE, w.jan, w.article, "Von Jan", TEXT, True, 1),
        edit_article(NOT_LIVE, w.mira, w.article, "Von Mira", TEXT, True, 1),
        return_exceptions=True,
    )
    saved = [r for r in results if isinstance(r, Article)]
    refused = [r for r in results if isinstance(r, ActionError)]
    assert len(saved) == 1 and len(refused) == 1 and refused[0].code == "edit_conflict"
    assert await Revision.filter(article_id=w.article).count() == 2
    assert (await Article.get(id=w.article)).title == saved[0].title


async def test_restoring_makes_an_old_revision_the_newest_and_a_missing_one_is_refused(
    world: World,
) -> None:
    w = world
    await edit_article(NOT_LIVE, w.mira, w.article, "Falsch", "Falscher Text", True, 1)
    restored = await restore_revision(NOT_LIVE, w.jan, w.article, 1, 2)
    assert (restored.revision, restored.title, restored.body) == (3, "Smart Meter ablesen", TEXT)
    newest = await Revision.get(article_id=w.article, number=3)
    assert newest.restored_from == 1 and newest.based_on == 2
    for number in (9, "x", -1):
        with pytest.raises(NotFound):
            await restore_revision(NOT_LIVE, w.jan, w.article, number, 3)
    assert (await Article.get(id=w.article)).revision == 3


async def test_customers_read_public_articles_only_and_write_none(world: World) -> None:
    w = world
    assert await article_for(w.weber, w.article) is not None
    assert await article_for(w.weber, w.internal) is None
    with pytest.raises(Forbidden):
        await create_article(NOT_LIVE, w.weber, "Mein Artikel", "Text")
    with pytest.raises(Forbidden):
        await edit_article(NOT_LIVE, w.weber, w.article, "x", "y", True, 1)
    found = await search(w.weber, parse("Rollout OR ablesen"), Filters())
    assert [(h.kind, h.url) for h in found] == [("article", f"/knowledge/{w.article}")]
    staff = {h.url for h in await search(w.jan, parse("Rollout OR ablesen"), Filters())}
    assert staff == {f"/knowledge/{w.article}", f"/knowledge/{w.internal}"}
    await edit_article(NOT_LIVE, w.jan, w.article, "Smart Meter ablesen", TEXT, False, 1)
    assert await search(w.weber, parse("ablesen"), Filters()) == [], "unpublished: gone"


async def test_a_save_tells_staff_with_the_article_open(world: World) -> None:
    w = world
    heard: list[tuple[str, dict[str, str]]] = []
    live = Publisher(Recorder(heard), viewers=lambda thread: set())  # type: ignore[arg-type]
    await edit_article(live, w.mira, w.article, "Neu", TEXT, True, 1)
    assert [(c, json.loads(f["staff"])) for c, f in heard] == [(KNOWLEDGE_CHANNEL, {
        "type": "article", "article": w.article, "revision": 2, "by": "Mira Hoffmann"
    })], "staff only: no view for customers"  # fmt: skip


async def test_a_resolved_question_becomes_a_draft_without_the_customers_details(
    world: World,
) -> None:
    w = world
    thread, _, _ = await start_thread(
        NOT_LIVE, w.weber, "Gisela Weber: Zähler dunkel",
        "Ich bin Gisela Weber, weber@example.org, IBAN DE02 1203 0000 0000 2020 51, "
        "Tel. 0171 2345678. Mein Zähler ist dunkel.", "w-1",
    )  # fmt: skip
    await send_message(NOT_LIVE, w.jan, thread.id, "Mit der Taschenlampe anleuchten.", "j-1")
    await update_thread(NOT_LIVE, w.jan, thread.id, status="resolved")
    draft = await draft_from(w.jan, thread.id, False, "Antwort")
    assert draft is not None
    for detail in ("Gisela", "Weber", "weber@example.org", "DE02", "2345678"):
        assert detail not in draft.body + draft.title, detail
    assert (
        "Mein Zähler ist dunkel" in draft.body
        and "## Antwort\n\nMit der Taschenlampe" in draft.body
    )
    kept = await draft_from(w.jan, thread.id, True, "Antwort")
    assert kept is not None and "weber@example.org" in kept.body
    assert await draft_from(w.weber, thread.id, False, "Antwort") is None, "staff only"
    article = await create_article(NOT_LIVE, w.jan, draft.title, draft.body, False, thread.id)
    assert article.source_thread_id == thread.id


def test_the_difference_shows_changed_lines_with_context_only() -> None:
    old = "\n".join(f"line {i}" for i in range(20))
    new = old.replace("line 10", "line ten") + "\nline 20"
    lines = [(line.kind, line.text) for line in difference(old, new)]
    assert ("removed", "line 10") in lines and ("added", "line ten") in lines
    assert ("added", "line 20") in lines and ("same", "line 0") not in lines
    assert ("gap", "") in lines
    assert difference("same", "same") == []


def test_articles_get_section_anchors_and_stay_inert() -> None:
    html = render_article("## A b\n\n### C\n\n## *A* b\n\n<img src=x onerror=alert(1)>")
    contents = contents_of(html)
    assert contents == [(2, "A b", "h-a-b"), (3, "C", "h-c"), (2, "A b", "h-a-b-")]
    assert '<h2 id="h-a-b">' in html and "<img" not in html


def test_the_pages_keep_customers_to_the_help_centre_and_an_editor_to_their_text(
    client: TestClient, fast_passwords: None
) -> None:
    async def setup() -> None:
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE)
        await create_article(NOT_LIVE, jan, "Öffentlich", "Für alle", True)
        await create_article(NOT_LIVE, jan, "Intern", "Nur Staff")

    client.portal.call(setup)  # type: ignore[union-attr]
    signup(client, "weber@example.org", "Gisela Weber")
    listed = client.get("/knowledge")
    assert "Öffentlich" in listed.text and "Intern" not in listed.text
    internal = client.get("/search", params={"q": "Nur Staff"})
    assert "Intern" not in internal.text
    assert client.get("/knowledge/new").status_code == 404
    ids = {a.title: a.id for a in client.portal.call(Article.all)}  # type: ignore[union-attr]
    assert client.get(f"/knowledge/{ids['Intern']}").status_code == 404
    assert client.get(f"/knowledge/{ids['Öffentlich']}").status_code == 200
    client.cookies.clear()
    login(client, "jan@nordlicht.example")
    article = ids["Intern"]
    first = client.post(f"/knowledge/{article}", data={
        "title": "Intern", "body": "Nur Staff, ergänzt", "base": "1", "csrftoken": csrf_of(client),
    }, follow_redirects=False)  # fmt: skip
    assert first.status_code == 303
    late = client.post(f"/knowledge/{article}", data={
        "title": "Intern", "body": "Mein eigener Text", "base": "1", "csrftoken": csrf_of(client),
    })  # fmt: skip
    assert late.status_code == 409
    assert "What changed meanwhile" in late.text and "Mein eigener Text" in late.text
    assert 'name="base" value="2"' in late.text, "the next save starts from the newest"
    assert (
        client.get(f"/knowledge/{article}/compare", params={"from": 1, "to": 2}).status_code == 200
    )
    assert (
        client.get(f"/knowledge/{article}/compare", params={"from": 1, "to": 9}).status_code == 404
    )
    history = client.get(f"/knowledge/{article}/history")
    assert "Revision 2" in history.text and "Revision 1" in history.text
