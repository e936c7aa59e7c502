"""Ideas: submitting one, its tags, its one write path, the board, the roadmap, its pages.

Actions run on SQLite and PostgreSQL; pages on the real app (TestClient, real lifespan).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.ideas import submit_idea, vote
from server.actions.sanctions import sanction
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.ideas import (
    PAGE,
    TAGS_MAX,
    TRENDING_DAYS,
    Board,
    Card,
    Filters,
    board,
    clean_filters,
    clean_tags,
    roadmap,
)
from server.models import (
    Event,
    Follow,
    Idea,
    IdeaStatus,
    IdeaTag,
    IdeaVote,
    Message,
    Role,
    Thread,
    ThreadKind,
)
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, make_settings, signup

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
async def people(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Two customers, an employee and a moderator, on each configured database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        yield {
            "weber": await create_user("weber@example.org", "Gisela Weber", PASSWORD),
            "tom": await create_user("tom@example.org", "Tom Becker", PASSWORD),
            "jan": await create_user(
                "jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field"
            ),
            "aylin": await create_user(
                "aylin@nordlicht.example", "Aylin Kaya", PASSWORD, Role.MODERATOR, "Community"
            ),
        }
    finally:
        await close_database()


# -- tags ----------------------------------------------------------------------------------


def test_tags_are_cleaned_to_lower_case_once_each_in_the_order_given() -> None:
    assert clean_tags("App, #Tariff  app dark-mode") == ["app", "tariff", "dark-mode"]
    assert clean_tags(["Zähler", "zähler"]) == ["zähler"]
    assert clean_tags("") == [] and clean_tags(None) == []


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("no_underscores", "invalid_tag"),
        ("semi;colon", "invalid_tag"),
        ("-leading", "invalid_tag"),
        ("x" * 31, "tag_too_long"),
        (" ".join(f"t{i}" for i in range(TAGS_MAX + 1)), "too_many_tags"),
        (42, "invalid_tags"),
    ],
)
def test_a_bad_tag_is_refused_with_a_clear_error(given: object, code: str) -> None:
    with pytest.raises(ActionError) as err:
        clean_tags(given)
    assert err.value.code == code


# -- submitting ----------------------------------------------------------------------------


async def test_a_submitted_idea_is_a_public_thread_with_its_idea_tags_and_its_author_following(
    people: dict[str, Any],
) -> None:
    weber = people["weber"]
    thread, idea, created = await submit_idea(
        NOT_LIVE, weber, "Dark mode for the app", "Please, my eyes.", "App, dark-mode", "i-1"
    )
    assert created and thread.kind == ThreadKind.IDEA and thread.author_id == weber.id
    assert (idea.thread_id, idea.status, idea.votes) == (thread.id, IdeaStatus.NEW, 0)
    tags = await IdeaTag.filter(idea_id=idea.id).order_by("tag").values_list("tag", flat=True)
    assert [str(t) for t in tags] == ["app", "dark-mode"]
    first = await Message.get(thread_id=thread.id)
    assert first.body == "Please, my eyes."
    assert await Follow.filter(user_id=weber.id, thread_id=thread.id).exists()


async def test_a_retried_submit_returns_the_first_idea_and_writes_nothing_more(
    people: dict[str, Any],
) -> None:
    weber = people["weber"]
    first = await submit_idea(NOT_LIVE, weber, "Export", "CSV please", "export", "same")
    again = await submit_idea(NOT_LIVE, weber, "Export", "CSV please", "export", "same")
    assert again[0].id == first[0].id and again[1].id == first[1].id and not again[2]
    assert await Idea.all().count() == 1 and await IdeaTag.all().count() == 1


async def test_bad_input_leaves_nothing_half_written(people: dict[str, Any]) -> None:
    weber = people["weber"]
    for title, tags in (("", "ok"), ("Fine", "bad_tag"), ("Fine", "a b c d e f")):
        with pytest.raises(ActionError):
            await submit_idea(NOT_LIVE, weber, title, "text", tags, f"bad-{title}-{tags}")
    assert await Thread.all().count() == 0 and await Idea.all().count() == 0


async def test_an_idea_started_as_a_thread_of_kind_idea_gets_its_idea_row_too(
    people: dict[str, Any],
) -> None:
    thread, _, _ = await start_thread(
        NOT_LIVE, people["tom"], "Tariff calculator", "Show me prices", "t-1", "idea"
    )
    idea = await Idea.get(thread_id=thread.id)
    assert idea.status == IdeaStatus.NEW and idea.votes == 0


async def test_an_idea_is_never_internal(people: dict[str, Any]) -> None:
    with pytest.raises(ActionError) as err:
        await start_thread(NOT_LIVE, people["jan"], "Secret", "x", "s-1", "idea", "internal")
    assert err.value.code == "invalid"
    assert await Thread.all().count() == 0


async def test_staff_may_open_an_idea_in_a_customers_name_and_nobody_else_may(
    people: dict[str, Any],
) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    with pytest.raises(Forbidden):
        await submit_idea(NOT_LIVE, tom, "Not mine", "x", "", "o-1", author_override=weber)
    asked, _, _ = await start_thread(NOT_LIVE, weber, "Can I pay by app?", "Would be nice", "q-1")
    source = await Message.get(thread_id=asked.id)
    thread, idea, _ = await submit_idea(
        NOT_LIVE, jan, "Pay in the app", "From a question", "app", "promote-1",
        source=source.id, author_override=weber,
    )  # fmt: skip
    assert thread.author_id == weber.id and idea.source_id == source.id
    first = await Message.get(thread_id=thread.id)
    assert first.author_id == weber.id and first.held_at is None


# -- voting: the rules (the counter's exactness: tests/test_idea_votes.py) -----------------


async def test_a_vote_counts_once_however_often_it_is_sent_and_is_taken_back_once(
    people: dict[str, Any],
) -> None:
    weber, tom = people["weber"], people["tom"]
    thread, _, _ = await submit_idea(NOT_LIVE, weber, "Dark mode", "x", "", "v-1")
    for _ in range(3):
        state, voted = await vote(NOT_LIVE, tom, thread.id, "1")
        assert (state.votes, voted) == (1, True)
    state, voted = await vote(NOT_LIVE, tom, thread.id, "0")
    assert (state.votes, voted) == (0, False)
    state, _ = await vote(NOT_LIVE, tom, thread.id, "0")
    assert state.votes == 0
    names = await Event.filter(thread_id=thread.id).values_list("name", flat=True)
    assert [str(n) for n in names].count("idea.changed") == 2, "a replay records nothing"


async def test_voting_is_refused_where_it_means_nothing(people: dict[str, Any]) -> None:
    weber, tom, aylin = people["weber"], people["tom"], people["aylin"]
    question, _, _ = await start_thread(NOT_LIVE, weber, "A question", "x", "q-1")
    with pytest.raises(NotFound):
        await vote(NOT_LIVE, tom, question.id, "1")
    with pytest.raises(NotFound):
        await vote(NOT_LIVE, tom, "nope", "1")
    thread, idea, _ = await submit_idea(NOT_LIVE, weber, "Dark mode", "x", "", "v-1")
    with pytest.raises(ActionError) as err:
        await vote(NOT_LIVE, tom, thread.id, "yes")
    assert err.value.code == "invalid_vote"
    for status in (IdeaStatus.DECLINED, IdeaStatus.DUPLICATE, IdeaStatus.DONE):
        await Idea.filter(id=idea.id).update(status=status)
        with pytest.raises(ActionError) as err:
            await vote(NOT_LIVE, tom, thread.id, "1")
        assert err.value.code == "idea_closed"
    await Idea.filter(id=idea.id).update(status=IdeaStatus.PLANNED)
    muted = await sanction(NOT_LIVE, aylin, tom.id, "mute", 1, "calm down")
    with pytest.raises(Forbidden):
        await vote(NOT_LIVE, muted, thread.id, "1")
    assert (await Idea.get(id=idea.id)).votes == 0


# -- the board -------------------------------------------------------------------------------


async def ideas_titled(author: Any, titles: list[str], tags: str = "") -> dict[str, str]:
    """Submit ideas in this order (oldest first); return title -> thread id."""
    found = {}
    for title in titles:
        cid = uuid.uuid4().hex
        thread, _, _ = await submit_idea(NOT_LIVE, author, title, "text", tags, cid)
        found[title] = thread.id
    return found


def titles(page: Board) -> list[str]:
    return [card.title for card in page.cards]


async def test_the_board_sorts_by_votes_by_recent_votes_and_by_age(
    people: dict[str, Any],
) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    ids = await ideas_titled(weber, ["Old favourite", "Rising", "Newest"])
    for voter in (weber, tom, jan):
        await vote(NOT_LIVE, voter, ids["Old favourite"], "1")
    for voter in (tom, jan):
        await vote(NOT_LIVE, voter, ids["Rising"], "1")
    # The old favourite's votes were cast long ago: they count for "top", not "trending".
    favourite = await Idea.get(thread_id=ids["Old favourite"])
    await IdeaVote.filter(idea_id=favourite.id).update(
        created_at=datetime.now(UTC) - timedelta(days=TRENDING_DAYS + 1)
    )
    assert titles(await board(tom, Filters("top"))) == ["Old favourite", "Rising", "Newest"]
    assert titles(await board(tom, Filters("trending"))) == ["Rising"]
    assert titles(await board(tom, Filters("new"))) == ["Newest", "Rising", "Old favourite"]
    top = (await board(tom, Filters("top"))).cards
    assert [(c.votes, c.voted) for c in top] == [(3, True), (2, True), (0, False)]


async def test_the_board_filters_by_status_and_tag_and_finds_title_words_as_one_types(
    people: dict[str, Any],
) -> None:
    weber = people["weber"]
    ids = await ideas_titled(weber, ["Dunkler Modus für die App"], "app, design")
    ids |= await ideas_titled(weber, ["Zählerstände per Foto melden"], "meter")
    ids |= await ideas_titled(weber, ["Paper bills again"], "billing")
    await Idea.filter(thread_id=ids["Paper bills again"]).update(status=IdeaStatus.DECLINED)
    everything = Filters(status="all")
    assert len((await board(weber, everything)).cards) == 3
    assert "Paper bills again" not in titles(await board(weber, Filters()))  # open ones
    assert titles(await board(weber, Filters(status="declined"))) == ["Paper bills again"]
    assert titles(await board(weber, Filters(tag="meter"))) == ["Zählerstände per Foto melden"]
    assert titles(await board(weber, Filters(q="dunk"))) == ["Dunkler Modus für die App"]
    assert titles(await board(weber, Filters(q="zählerstand"))) == ["Zählerstände per Foto melden"]
    assert titles(await board(weber, Filters(q="modus", tag="meter"))) == []
    assert titles(await board(weber, Filters(q="!!"))) == []


async def test_customers_see_no_one_elses_hidden_idea_on_the_board_but_staff_do(
    people: dict[str, Any],
) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    ids = await ideas_titled(weber, ["Shown", "Hidden one"])
    await Thread.filter(id=ids["Hidden one"]).update(
        hidden_at=datetime.now(UTC), hidden_reason="spam"
    )
    assert titles(await board(tom, Filters(sort="new"))) == ["Shown"]
    assert titles(await board(weber, Filters(sort="new"))) == ["Hidden one", "Shown"]
    assert [c.hidden for c in (await board(jan, Filters(sort="new"))).cards] == [True, False]
    with pytest.raises(NotFound):
        await vote(NOT_LIVE, tom, ids["Hidden one"], "1")
    with pytest.raises(ActionError) as err:
        await vote(NOT_LIVE, weber, ids["Hidden one"], "1")
    assert err.value.code == "idea_hidden"


@pytest.mark.parametrize("sort", ["top", "trending", "new"])
async def test_paging_walks_every_idea_once_in_order(people: dict[str, Any], sort: str) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    ids = await ideas_titled(weber, [f"Idea {n:02}" for n in range(PAGE * 2 + 5)])
    for n, thread_id in enumerate(ids.values()):  # ties on purpose: 0, 1 or 2 votes
        for voter in (tom, jan)[: n % 3]:
            await vote(NOT_LIVE, voter, thread_id, "1")
    seen: list[Card] = []
    after = None
    for _ in range(10):
        page = await board(weber, Filters(sort, status="all"), after)
        assert len(page.cards) <= PAGE
        seen += page.cards
        if page.next is None:
            break
        after = page.next
    expected = len(ids) if sort != "trending" else sum(1 for n in range(len(ids)) if n % 3)
    assert len(seen) == len({c.idea_id for c in seen}) == expected
    # Ties are broken by id, in the database's collation: only the order that shows is checked.
    keys = {
        "top": lambda c: (c.votes, c.created_at),
        "new": lambda c: c.created_at,
        "trending": lambda c: c.votes,  # all votes are recent here
    }[sort]
    assert seen == sorted(seen, key=keys, reverse=True)


async def test_a_forged_page_link_is_refused_clearly(people: dict[str, Any]) -> None:
    for sort, after in (("top", "x" * 40), ("trending", "abc.def"), ("new", "a b")):
        with pytest.raises(ActionError) as err:
            await board(people["tom"], Filters(sort), after)
        assert err.value.code == "invalid_cursor"


def test_the_board_refuses_an_unknown_sort_status_or_tag() -> None:
    for params in ({"sort": "best"}, {"status": "maybe"}, {"tag": "no_way"}):
        with pytest.raises(ActionError):
            clean_filters(params)


async def test_the_roadmap_shows_planned_in_progress_and_done_ideas_only(
    people: dict[str, Any],
) -> None:
    weber = people["weber"]
    ids = await ideas_titled(weber, ["Planned one", "Busy one", "Done one", "Just new"])
    moved = {
        "Planned one": IdeaStatus.PLANNED,
        "Busy one": IdeaStatus.IN_PROGRESS,
        "Done one": IdeaStatus.DONE,
    }
    for title, status in moved.items():
        await Idea.filter(thread_id=ids[title]).update(status=status)
    columns = await roadmap(people["tom"])
    assert {s.value: [c.title for c in cards] for s, cards in columns.items()} == {
        "planned": ["Planned one"], "in_progress": ["Busy one"], "done": ["Done one"],
    }  # fmt: skip


# -- the pages -----------------------------------------------------------------------------


def test_a_customer_submits_an_idea_votes_on_its_page_and_finds_it_on_the_board(
    client: TestClient,
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    assert client.get("/ideas/new").status_code == 200
    r = client.post(
        "/ideas", follow_redirects=False,
        data={"title": "Dark mode", "body": "Please", "tags": "App, design",
              "client_id": "p-1", "csrftoken": csrf_of(client)},
    )  # fmt: skip
    assert r.status_code == 303
    thread_id = r.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/threads/{thread_id}").text
    assert 'id="idea-panel"' in page and 'aria-pressed="false"' in page and "#design" in page
    htmx = {"HX-Request": "true", "x-csrftoken": csrf_of(client)}
    r = client.post(f"/ideas/{thread_id}/vote", data={"vote": "1"}, headers=htmx)
    assert r.status_code == 200 and 'aria-pressed="true"' in r.text
    assert '<span class="vote-count">1</span>' in r.text
    r = client.post(f"/ideas/{thread_id}/vote", data={"vote": "1", "card": "1"}, headers=htmx)
    assert r.text.startswith(f'<li id="idea-{thread_id}"'), "a replay answers with the card"
    assert '<span class="vote-count">1</span>' in r.text
    board_page = client.get("/ideas").text
    assert f'id="idea-{thread_id}"' in board_page and "data-ideas" in board_page
    found = client.get("/ideas?q=dar", headers={"HX-Request": "true"})
    assert 'id="idea-cards"' in found.text and "<html" not in found.text
    assert "No idea matches" in client.get("/ideas?q=zebra").text
    assert client.get("/roadmap").status_code == 200


def test_bad_board_filters_and_votes_are_answered_with_a_clear_error(client: TestClient) -> None:
    signup(client, "tom@example.org", "Tom Becker")
    r = client.get("/ideas?sort=best")
    assert r.status_code == 400 and "sort must be one of top, trending, new" in r.text
    r = client.post(
        "/ideas", data={"title": "Tags", "body": "x", "tags": "a_b", "csrftoken": csrf_of(client)}
    )
    assert r.status_code == 400 and "letters, digits and hyphens" in r.text
    r = client.post(
        "/ideas/nope/vote", data={"vote": "1", "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 404
