"""An idea's vote counter never drifts: `Idea.votes` == its IdeaVote rows == distinct voters,
whatever arrives at once — many people, one person's replays, two tabs that disagree — in one
process and across two server processes on one database.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2 as httpx
import pytest

from server.actions.accounts import create_user
from server.actions.ideas import submit_idea, vote
from server.db import close_database, open_database
from server.models import Event, Idea, IdeaVote, User
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.live import LiveServer
from tests.live_helpers import WAIT_SECONDS, cookie_header

pytestmark = pytest.mark.usefixtures("fast_passwords")

VOTERS = 12


async def people(count: int) -> list[User]:
    return [
        await create_user(f"voter{i}@example.org", f"Voter {i}", PASSWORD) for i in range(count)
    ]


async def counts(idea_id: str) -> tuple[int, int, int]:
    """The counter, the rows, and the distinct people the rows name."""
    idea = await Idea.get(id=idea_id)
    rows = await IdeaVote.filter(idea_id=idea_id).values_list("user_id", flat=True)
    return idea.votes, len(rows), len(set(rows))


@pytest.fixture
async def idea(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Idea, list[User]]]:
    """An idea and VOTERS people, on each configured database, the database open."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        voters = await people(VOTERS)
        _, made, _ = await submit_idea(NOT_LIVE, voters[0], "Dark mode", "Please", "app", "i-1")
        yield made, voters
    finally:
        await close_database()


async def test_many_people_voting_at_once_with_replays_count_once_each(
    idea: tuple[Idea, list[User]],
) -> None:
    made, voters = idea
    # Everyone votes three times at once (a replayed request, a double tap, a second tab).
    tries = [vote(NOT_LIVE, person, made.thread_id, "1") for person in voters for _ in range(3)]
    random.Random(14).shuffle(tries)
    await asyncio.gather(*tries)
    assert await counts(made.id) == (VOTERS, VOTERS, VOTERS)
    events = await Event.filter(thread_id=made.thread_id, name="idea.changed").count()
    assert events == VOTERS, "one event per vote that changed something, none for a replay"


async def test_two_tabs_that_disagree_leave_the_counter_equal_to_the_rows(
    idea: tuple[Idea, list[User]],
) -> None:
    made, voters = idea
    # Each person's two tabs send opposite wishes, several times over, all at once: which
    # wins is a race, but the counter must say exactly what the rows say.
    tries = [
        vote(NOT_LIVE, person, made.thread_id, wanted)
        for person in voters
        for wanted in ("1", "0", "1", "0", "1")
    ]
    random.Random(7).shuffle(tries)
    await asyncio.gather(*tries)
    votes, rows, distinct = await counts(made.id)
    assert votes == rows == distinct
    # Then each takes it back twice: zero, whatever the race left.
    await asyncio.gather(*(vote(NOT_LIVE, p, made.thread_id, "0") for p in voters * 2))
    assert await counts(made.id) == (0, 0, 0)


async def test_a_refused_vote_leaves_neither_a_row_nor_a_count(
    idea: tuple[Idea, list[User]],
) -> None:
    made, voters = idea
    await vote(NOT_LIVE, voters[1], made.thread_id, "1")
    await Idea.filter(id=made.id).update(status="declined")  # as a staff decision leaves it
    results = await asyncio.gather(
        *(vote(NOT_LIVE, p, made.thread_id, w) for p in voters[1:5] for w in ("1", "0")),
        return_exceptions=True,
    )
    assert all(isinstance(r, Exception) for r in results)
    assert await counts(made.id) == (1, 1, 1)


# -- two server processes on one database ---------------------------------------------------


async def _prepare(database_url: str, tmp_path: Path) -> tuple[str, str, list[str]]:
    """People (cheap passwords: signing in is not what is tested) and an idea."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        voters = await people(VOTERS)
        thread, made, _ = await submit_idea(NOT_LIVE, voters[0], "Export", "CSV", "", "i-2")
        return thread.id, made.id, [v.email for v in voters]
    finally:
        await close_database()


async def _counts_of(database_url: str, tmp_path: Path, idea_id: str) -> tuple[int, int, int]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        return await counts(idea_id)
    finally:
        await close_database()


def test_two_server_processes_hammering_one_idea_count_each_voter_once(
    database_url: str, tmp_path: Path
) -> None:
    thread_id, idea_id, emails = asyncio.run(_prepare(database_url, tmp_path))
    one = LiveServer(database_url, tmp_path / "one")
    two = LiveServer(database_url, tmp_path / "two")
    for server in (one, two):
        server.data_dir.mkdir(parents=True)
        server.start()
    try:
        sessions = []
        for email in emails:  # a browser each; its session works on either process
            http = httpx.Client(base_url=one.url, timeout=WAIT_SECONDS, trust_env=False)
            login(http, email)
            sessions.append(http)

        async def hammer(wishes: list[str]) -> list[int]:
            servers = itertools.cycle((one, two))
            clients = []
            for http in sessions:
                headers = {"Cookie": cookie_header(http), "HX-Request": "true",
                           "x-csrftoken": http.cookies["dreiklang_csrf"]}  # fmt: skip
                for server in (next(servers), next(servers)):
                    client = httpx.AsyncClient(
                        base_url=server.url, headers=headers, timeout=WAIT_SECONDS,
                        trust_env=False,
                    )  # fmt: skip
                    clients.append(client)
            try:
                tries = [
                    c.post(f"/ideas/{thread_id}/vote", data={"vote": w})
                    for c in clients for w in wishes
                ]  # fmt: skip
                random.Random(len(wishes)).shuffle(tries)
                return [r.status_code for r in await asyncio.gather(*tries)]
            finally:
                for c in clients:
                    await c.aclose()

        # Everyone votes from both processes, twice each: counted once.
        assert set(asyncio.run(hammer(["1", "1"]))) == {200}
        assert asyncio.run(_counts_of(database_url, tmp_path, idea_id)) == (
            VOTERS, VOTERS, VOTERS,
        )  # fmt: skip
        # Two tabs per person on two processes disagree: counter == rows == people.
        assert set(asyncio.run(hammer(["0", "1", "0", "1"]))) == {200}
        votes, rows, distinct = asyncio.run(_counts_of(database_url, tmp_path, idea_id))
        assert votes == rows == distinct
        # And all take it back: nothing left, nothing below zero.
        assert set(asyncio.run(hammer(["0", "0"]))) == {200}
        assert asyncio.run(_counts_of(database_url, tmp_path, idea_id)) == (0, 0, 0)
        for http in sessions:
            http.close()
    finally:
        one.stop()
        two.stop()
