"""The `dreiklang` command: the demo company and staff accounts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.db import close_database, open_database
from server.demo import IDEAS, PEOPLE, THREADS
from server.models import Role, Thread, User
from tests.conftest import ROOT, make_settings

SIGN_IN = re.compile(r"^\s+(customer|employee|moderator|admin)\s+(\S+@\S+)\s+(\S.*)$")


def run_cli(
    tmp_path: Path, database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, SECRET_KEY="cli-test")
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, input=stdin,
    )  # fmt: skip


def sign_ins(stdout: str) -> tuple[str, dict[str, str]]:
    """Return the printed password and the printed e-mail per role line."""
    [password] = re.findall(r"password '([^']+)'", stdout)
    found = {}
    for line in stdout.splitlines():
        match = SIGN_IN.match(line)
        if match:
            found[match.group(2)] = match.group(1)
    return password, found


def api_login(client: TestClient, email: str, password: str) -> dict[str, object]:
    """Sign in through the API and return who the server says we are."""
    client.cookies.clear()
    r = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert r.status_code == 201, (email, r.text)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    return dict(me.json())


async def thread_titles(database_url: str, tmp_path: Path) -> Counter[str]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        return Counter(t.title for t in await Thread.all())
    finally:
        await close_database()


async def test_demo_prints_a_working_sign_in_for_every_role_and_loads_once(
    database_url: str, tmp_path: Path
) -> None:
    first = run_cli(tmp_path, database_url, "demo", "--no-serve")
    assert first.returncode == 0, first.stderr
    password, people = sign_ins(first.stdout)
    assert set(people.values()) == {r.value for r in Role}, first.stdout
    expected = {email: role.value for _, email, _, role, _ in PEOPLE}
    assert all(expected[email] == role for email, role in people.items())
    titles = await thread_titles(database_url, tmp_path)
    posts = Counter(["Smart-Meter-Rollout startet am 1. Dezember"])  # Mira's, in a space
    ideas = Counter(i[1] for i in IDEAS)  # each idea is a thread of its own
    assert titles == Counter(t[1] for t in THREADS) + posts + ideas

    again = run_cli(tmp_path, database_url, "demo", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert sign_ins(again.stdout) == (password, people)
    assert await thread_titles(database_url, tmp_path) == titles, "no duplicate threads"

    await open_database(make_settings(database_url, tmp_path))
    try:
        assert await User.all().count() == len(PEOPLE)
    finally:
        await close_database()
    settings = make_settings(database_url, tmp_path, login_attempts_per_minute=100)
    with TestClient(create_app(settings)) as client:
        for email, role in people.items():
            me = api_login(client, email, password)
            assert me["role"] == role and me["email"] == email


def test_user_add_creates_a_staff_account_that_can_sign_in(sqlite_url: str, tmp_path: Path) -> None:
    done = run_cli(
        tmp_path, sqlite_url, "user", "add", " Jan@Nordlicht.example", "--name", "Jan Petersen",
        "--role", "employee", "--team", "Field service", "--password", "a long password",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "created employee Jan Petersen <jan@nordlicht.example>"
    # Without --password, the password is asked for.
    done = run_cli(
        tmp_path, sqlite_url, "user", "add", "aylin@nordlicht.example", "--name", "Aylin",
        "--role", "moderator", stdin="another long password\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with TestClient(create_app(make_settings(sqlite_url, tmp_path))) as client:
        me = api_login(client, "jan@nordlicht.example", "a long password")
        assert me["role"] == "employee" and me["staff"] is True
        assert me["team"] == "Field service" and me["name"] == "Jan Petersen"
        me = api_login(client, "aylin@nordlicht.example", "another long password")
        assert me["role"] == "moderator"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["boss@nordlicht.example", "--name", "B", "--role", "boss", "--password", "x" * 12], 2,
         "invalid choice: 'boss'"),
        (["not-an-address", "--name", "B", "--password", "x" * 12], 1,
         "dreiklang: 'not-an-address' is not an e-mail address"),
        (["short@nordlicht.example", "--name", "B", "--password", "short"], 1,
         "dreiklang: the password needs at least 10 characters"),
        (["noname@nordlicht.example", "--name", "  ", "--password", "x" * 12], 1,
         "dreiklang: the name is empty"),
        (["taken@nordlicht.example", "--name", "B", "--password", "x" * 12], 1,
         "dreiklang: an account for 'taken@nordlicht.example' exists already"),
        (["nameless@nordlicht.example", "--password", "x" * 12], 2,
         "the following arguments are required: --name"),
    ],
)  # fmt: skip
def test_user_add_explains_bad_input_and_fails(
    sqlite_url: str, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    taken = ["taken@nordlicht.example", "--name", "T", "--password", "x" * 12]
    assert run_cli(tmp_path, sqlite_url, "user", "add", *taken).returncode == 0
    done = run_cli(tmp_path, sqlite_url, "user", "add", *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "created" not in done.stdout


def test_user_add_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path, f"sqlite://{tmp_path / 'empty.sqlite3'}", "user", "add",
        "jan@nordlicht.example", "--name", "Jan", "--password", "a long password",
    )  # fmt: skip
    assert done.returncode == 2
    assert "run `dreiklang migrate` first" in done.stderr
    assert "Traceback" not in done.stderr
