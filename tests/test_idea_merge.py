"""Merging a duplicate idea (B) into another (A): B's votes count for A without counting
anyone twice, B's followers follow A (who muted A stays muted), B closes as a duplicate
linking to A, and both threads say so. Loops, chains, itself, a non-idea, a hidden idea and an
idea merged already are refused with nothing changed; two merges at once never double a vote.

On SQLite and PostgreSQL (`database_url`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from push.recipients import candidates
from server.actions.accounts import create_user
from server.actions.idea_status import merge_ideas, set_status, thread_id_in
from server.actions.ideas import submit_idea, vote
from server.actions.moderation import moderate
from server.actions.notifications import set_follow
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.models import (
    Event,
    Follow,
    FollowState,
    Idea,
    IdeaStatus,
    IdeaVote,
    Message,
    NotificationIntent,
    Role,
    Thread,
    User,
)
from tests.conftest import NOT_LIVE, PASSWORD, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")

CUSTOMERS = ("weber", "tom", "anna", "lena", "axel")


@pytest.fixture
async def people(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, User]]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        found = {name: await create_user(f"{name}@example.org", name.title(), PASSWORD)
                 for name in CUSTOMERS}  # fmt: skip
        found["jan"] = await create_user(
            "jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service"
        )
        found["aylin"] = await create_user(
            "aylin@nordlicht.example", "Aylin Kaya", PASSWORD, Role.MODERATOR, "Community"
        )
        yield found
    finally:
        await close_database()


async def idea_by(author: User, title: str, voters: tuple[User, ...] = ()) -> Thread:
    thread, _, _ = await submit_idea(NOT_LIVE, author, title, "Please.", "", f"i-{title}")
    for voter in voters:
        await vote(NOT_LIVE, voter, thread.id, "1")
    return thread


async def picture(*threads: Thread) -> tuple[Any, ...]:
    """Everything a refused merge must leave as it was."""
    ideas = [await Idea.get(thread_id=t.id) for t in threads]
    return (
        [(i.status, i.votes, i.merged_into_id) for i in ideas],
        sorted(await IdeaVote.all().values_list("idea_id", "user_id")),
        sorted(await Follow.all().values_list("thread_id", "user_id", "state")),
        await Message.all().count(),
        await Event.all().count(),
    )


async def test_b_s_votes_move_to_a_counting_a_person_who_voted_for_both_once(
    people: dict[str, User],
) -> None:
    weber, tom, anna, lena, axel, jan = (people[k] for k in (*CUSTOMERS, "jan"))
    a = await idea_by(weber, "More charging points at the harbour", (weber, tom, anna))
    b = await idea_by(lena, "Chargers near the ferry", (lena, tom, axel))  # Tom: both
    await set_follow(axel, a.id, "muted")  # follows B (voted), muted A: stays muted on A

    dup, into = await merge_ideas(NOT_LIVE, jan, b.id, f"https://app.example/threads/{a.id}")

    assert into.votes == 5, "weber, tom, anna + lena, axel: Tom counted once"
    assert dup.status == IdeaStatus.DUPLICATE and dup.votes == 0 and dup.merged_into == a.id
    a_idea, b_idea = await Idea.get(thread_id=a.id), await Idea.get(thread_id=b.id)
    assert a_idea.votes == await IdeaVote.filter(idea_id=a_idea.id).count() == 5
    assert (b_idea.status, b_idea.votes, b_idea.merged_into_id) == (
        IdeaStatus.DUPLICATE, 0, a_idea.id
    )  # fmt: skip
    assert not await IdeaVote.filter(idea_id=b_idea.id).exists()
    voters = await IdeaVote.filter(idea_id=a_idea.id).values_list("user_id")
    assert {v for (v,) in voters} == {weber.id, tom.id, anna.id, lena.id, axel.id}

    follows = dict(await Follow.filter(thread_id=a.id).values_list("user_id", "state"))
    assert follows[lena.id] == FollowState.FOLLOWING, "B's author followed B: now A too"
    assert follows[axel.id] == FollowState.MUTED, "muted stays muted"
    assert follows[jan.id] == FollowState.FOLLOWING, "who wrote in A follows it"

    b_note = await Message.filter(thread_id=b.id).order_by("-seq").first()
    a_note = await Message.filter(thread_id=a.id).order_by("-seq").first()
    assert b_note is not None and a_note is not None
    assert f"/threads/{a.id}" in b_note.body and "Status: Duplicate" in b_note.body
    assert f"/threads/{b.id}" in a_note.body, "A mentions B"
    assert (await Thread.get(id=b.id)).answer_id == b_note.id
    for thread in (a, b):
        assert await Event.filter(thread_id=thread.id, name="idea.changed").exists()

    [intent] = await NotificationIntent.filter(kind="idea_status")
    assert intent.thread_id == b.id
    told = {reader.id for reader, _ in await candidates(intent)}
    assert told == {lena.id, tom.id, axel.id}, "B's voters (and author); not Jan"

    with pytest.raises(ActionError, match="takes no more votes"):
        await vote(NOT_LIVE, people["weber"], b.id, "1")


async def test_an_idea_cannot_be_merged_into_itself_a_chain_a_loop_a_non_idea_or_a_hidden_one(
    people: dict[str, User],
) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    a = await idea_by(weber, "Idea A", (tom,))
    b = await idea_by(tom, "Idea B", (weber,))
    c = await idea_by(weber, "Idea C")
    hidden = await idea_by(tom, "Idea hidden")
    await moderate(NOT_LIVE, people["aylin"], "thread", hidden.id, "hide", "spam")
    question, _, _ = await start_thread(NOT_LIVE, tom, "Meter", "Wrong?", "q-1")
    await merge_ideas(NOT_LIVE, jan, b.id, a.id)  # B is a duplicate of A now
    before = await picture(a, b, c, hidden)

    refused = {
        (c.id, c.id): "merge_into_itself",
        (c.id, f"/threads/{c.id}"): "merge_into_itself",
        (c.id, b.id): "merge_chain",  # into a duplicate: merge into what it went to
        (a.id, b.id): "merge_chain",  # a loop: A into B, which went into A
        (b.id, c.id): "conflict",  # merged already
        (c.id, question.id): "not_an_idea",
        (c.id, hidden.id): "invisible_target",
        (c.id, "no-such-idea"): "not_found",
        (c.id, ""): "invalid_target",
        (c.id, "../../etc/passwd\x00"): "invalid_target",
        (question.id, c.id): "not_an_idea",
    }
    for (source, target), code in refused.items():
        with pytest.raises(ActionError) as err:
            await merge_ideas(NOT_LIVE, jan, source, target)
        assert err.value.code == code, (source, target)
    with pytest.raises(Forbidden):
        await merge_ideas(NOT_LIVE, weber, c.id, a.id)
    with pytest.raises(NotFound):
        await merge_ideas(NOT_LIVE, weber, hidden.id, a.id)
    with pytest.raises(ActionError) as err:
        await set_status(NOT_LIVE, jan, b.id, "planned")
    assert err.value.code == "merged", "nothing out of duplicate"
    assert await picture(a, b, c, hidden) == before


def test_the_target_may_be_named_by_its_id_or_any_link_to_it() -> None:
    for given in ("abc123", " abc123 ", "/threads/abc123", "https://x.example/threads/abc123/",
                  "http://x.example/threads/abc123?x=1#msg-9"):  # fmt: skip
        assert thread_id_in(given) == "abc123", given
    for bad in (None, "", "/", "a b", 5):
        with pytest.raises(ActionError):
            thread_id_in(bad)


async def test_two_merges_at_once_never_count_a_vote_twice(people: dict[str, User]) -> None:
    weber, tom, anna, lena, jan = (people[k] for k in ("weber", "tom", "anna", "lena", "jan"))
    for round_ in range(3):
        a = await idea_by(weber, f"A{round_}", (weber, tom))
        b = await idea_by(lena, f"B{round_}", (tom, anna, lena))
        # The same merge twice (two tabs), and B into A racing A into B (a loop in the making).
        results = await asyncio.gather(
            merge_ideas(NOT_LIVE, jan, b.id, a.id),
            merge_ideas(NOT_LIVE, people["aylin"], b.id, a.id),
            merge_ideas(NOT_LIVE, jan, a.id, b.id),
            return_exceptions=True,
        )
        done = [r for r in results if not isinstance(r, BaseException)]
        assert len(done) == 1, results
        for failed in results:
            if isinstance(failed, BaseException):
                assert isinstance(failed, ActionError), failed
        a_idea, b_idea = await Idea.get(thread_id=a.id), await Idea.get(thread_id=b.id)
        kept, gone = (a_idea, b_idea) if b_idea.status == IdeaStatus.DUPLICATE else (b_idea, a_idea)
        assert gone.status == IdeaStatus.DUPLICATE and gone.merged_into_id == kept.id
        assert kept.status == IdeaStatus.NEW, "never both duplicates"
        assert kept.votes == await IdeaVote.filter(idea_id=kept.id).count() == 4
        assert gone.votes == 0 and not await IdeaVote.filter(idea_id=gone.id).exists()
