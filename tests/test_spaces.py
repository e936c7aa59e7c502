"""Spaces on SQLite and PostgreSQL: staff make them and post in them, whoever joined follows each
new thread or post, what is in a space is internal whatever the form says, and customers
neither see nor reach one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.spaces import create_space, join_space
from server.actions.teams import create_team
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.models import Follow, FollowState, Role, Space, Thread, User, Visibility
from server.queries import thread_for
from server.search import Filters, search
from server.spaces import members_of
from server.terms import parse
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings, signup

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class World:
    admin: User
    jan: User  # Field service
    mira: User  # Billing
    weber: User  # customer
    field: Space  # Field service's space


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        admin = await create_user("admin@nordlicht.example", "Sabine Admin", PASSWORD, Role.ADMIN)
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE,
                                "Field service")  # fmt: skip
        mira = await create_user("mira@nordlicht.example", "Mira Yilmaz", PASSWORD,
                                 Role.EMPLOYEE, "Billing")  # fmt: skip
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        team = await create_team(admin, "Field service", None)
        field = await create_space(admin, "Field service", "Technik", team.id)
        yield World(admin, jan, mira, weber, field)
    finally:
        await close_database()


async def followers(thread: Thread) -> set[str]:
    found = Follow.filter(thread_id=thread.id, state=FollowState.FOLLOWING)
    return {str(u) for u in await found.values_list("user_id", flat=True)}


async def test_who_joined_follows_each_new_post_and_it_is_internal_whatever_was_asked(
    world: World,
) -> None:
    w = world
    await join_space(w.mira, w.field.id, True)
    post, _, _ = await start_thread(NOT_LIVE, w.jan, "Neue Messgeräte", "Ab Montag.", "j-1",
                                    "post", "public", space=w.field.id)  # fmt: skip
    assert post.visibility == Visibility.INTERNAL and post.space_id == w.field.id
    assert await followers(post) == {w.jan.id, w.mira.id, w.admin.id}, "author, joined, maker"
    assert await thread_for(w.weber, post.id) is None
    await join_space(w.mira, w.field.id, False)
    later, _, _ = await start_thread(NOT_LIVE, w.jan, "Werkzeug", "Bitte zurückgeben.", "j-2",
                                     "discussion", space=w.field.id)  # fmt: skip
    assert w.mira.id not in await followers(later), "she left"


async def test_members_are_the_teams_staff_and_whoever_joined(world: World) -> None:
    w = world
    assert {u.display_name for u in await members_of(w.field)} == {"Jan Petersen", "Sabine Admin"}
    await join_space(w.mira, w.field.id, True)
    await join_space(w.mira, w.field.id, True)  # a second tab: nothing doubles
    assert len(await members_of(w.field)) == 3


async def test_bad_spaces_posts_and_people_get_a_clear_error(world: World) -> None:
    w = world
    with pytest.raises(Conflict):
        await create_space(w.jan, "Field service")
    with pytest.raises(Forbidden):
        await create_space(w.weber, "Kunden")
    with pytest.raises(ActionError):
        await create_space(w.jan, "   ")
    with pytest.raises(NotFound):
        await create_space(w.jan, "Neu", "", "no-such-team")
    with pytest.raises(NotFound):  # a customer sees no space, as if there were none
        await start_thread(NOT_LIVE, w.weber, "Hallo", "Text", "w-1", space=w.field.id)
    with pytest.raises(NotFound):
        await join_space(w.weber, w.field.id, True)
    with pytest.raises(ActionError) as err:
        await start_thread(NOT_LIVE, w.jan, "Post", "Text", "j-3", "post")
    assert err.value.message == "a post belongs in a space"
    assert await Space.all().count() == 1 and await Thread.all().count() == 0


async def test_search_narrows_to_a_space(world: World) -> None:
    w = world
    other = await create_space(w.mira, "Billing")
    await start_thread(NOT_LIVE, w.jan, "Zählertausch Nord", "Zähler", "j-4", "post",
                       space=w.field.id)  # fmt: skip
    await start_thread(NOT_LIVE, w.mira, "Zählertausch Rechnung", "Zähler", "m-1", "post",
                       space=other.id)  # fmt: skip
    found = await search(w.jan, parse("Zählertausch"), Filters(kind="thread", space=other.id))
    assert [str(h.title) for h in found] == ["<mark>Zählertausch</mark> Rechnung"]
    assert await search(w.weber, parse("Zählertausch"), Filters()) == []


def test_customers_reach_no_space_page_and_staff_join_from_it(
    client: TestClient, fast_passwords: None
) -> None:
    async def setup() -> str:
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE)
        return (await create_space(jan, "Nordlicht intern")).id

    space = client.portal.call(setup)  # type: ignore[union-attr]
    signup(client, "weber@example.org", "Gisela Weber")
    for url in ("/spaces", f"/spaces/{space}"):
        answer = client.get(url)
        assert answer.status_code == 404 and "Nordlicht intern" not in answer.text
    assert "/spaces" not in client.get("/threads").text
    client.cookies.clear()
    login(client, "jan@nordlicht.example")
    page = client.get(f"/spaces/{space}")
    assert page.status_code == 200 and "Leave" in page.text, "its maker follows it"
    assert client.get("/spaces/nope").status_code == 404
