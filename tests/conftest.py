"""Shared fixtures: databases (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set), the app
through TestClient with its real lifespan, and a real uvicorn server in a subprocess."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from server.publisher import Publisher
from server.settings import ROLES, Settings

# Real servers, the demo company and Chromium: tests/live.py.
pytest_plugins = ["tests.live"]

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
DEMO_PASSWORD = "nordlicht-demo"  # noqa: S105
PASSWORD = "correct horse battery"  # noqa: S105
NOT_LIVE = Publisher()  # for actions run without a server: nothing is published
# Tests send many messages as one person within a minute: posting is limited (and counted) in
# every test app and live server, but far above that. tests/test_posting_limits.py sets its own.
TEST_POSTS_PER_MINUTE = {role: 10_000 for role in ROLES}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Databases:
    """Fresh databases for tests, copied from one migrated per test session: a SQLite file
    copy, or `CREATE DATABASE … TEMPLATE` on PostgreSQL. Migrating takes ~0.5 s a test;
    a copy takes milliseconds."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: Path | None = None
        self.postgres: str | None = None
        self.created: list[str] = []

    def sqlite_url(self, path: Path, *, migrated: bool = True) -> str:
        """Return the URL of a new SQLite file at `path`, migrated unless told otherwise."""
        if migrated:
            if self.sqlite is None:
                template = self.folder / "migrated.sqlite3"
                migrate_sync(make_settings(f"sqlite://{template}", self.folder))
                self.sqlite = template
            shutil.copyfile(self.sqlite, path)
        return f"sqlite://{path}"

    def postgres_url(self, *, migrated: bool = True) -> str:
        """Return the URL of a new PostgreSQL database, migrated unless told otherwise."""
        name = "dk_test_" + secrets.token_hex(6)
        if migrated and self.postgres is None:
            template = "dk_migrated_" + secrets.token_hex(6)
            asyncio.run(_pg_admin(POSTGRES_URL, f'CREATE DATABASE "{template}"'))
            self.created.append(template)  # dropped at the end even if migrating fails
            migrate_sync(make_settings(_with_database(POSTGRES_URL, template), self.folder))
            self.postgres = template
        copy = f' TEMPLATE "{self.postgres}"' if migrated else ""
        asyncio.run(_pg_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"{copy}'))
        return _with_database(POSTGRES_URL, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        asyncio.run(_pg_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        for name in self.created:
            asyncio.run(_pg_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    found = Databases(tmp_path_factory.mktemp("databases"))
    try:
        yield found
    finally:
        found.close()


def _database(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path, migrated: bool
) -> Iterator[str]:
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / "test.sqlite3", migrated=migrated)
        return
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_POSTGRES_URL so the PostgreSQL variant runs")
        pytest.skip("TEST_POSTGRES_URL is not set")
    url = databases.postgres_url(migrated=migrated)
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[str]:
    """A fresh, migrated database: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set."""
    yield from _database(request, databases, tmp_path, migrated=True)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[str]:
    """A fresh database without any table (for tests of migrating)."""
    yield from _database(request, databases, tmp_path, migrated=False)


@pytest.fixture
def sqlite_url(databases: Databases, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database."""
    return databases.sqlite_url(tmp_path / "test.sqlite3")


def make_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    """Settings for an app in the test process. Its push worker runs on the app's own event
    loop (a child process per TestClient would be slow); live servers run the real child."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=__import__("starlette.datastructures").datastructures.Secret("test-secret"),
        **{"push_in_process": True, "posts_per_minute": TEST_POSTS_PER_MINUTE, **extra},
    )


@pytest.fixture(scope="session", autouse=True)
def _live_servers_post_freely() -> Iterator[None]:
    """Live servers (tests/live.py) read their settings from the environment they inherit:
    give them the tests' posting limits too (a test's env_extra may still set its own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "POSTS_PER_MINUTE", ",".join(f"{r}={n}" for r, n in TEST_POSTS_PER_MINUTE.items())
        )
        yield


def migrate_sync(settings: Settings) -> None:
    from server.db import migrate

    asyncio.run(migrate(settings))


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its real lifespan on a migrated SQLite database."""
    from server.app import create_app

    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_sql_cache() -> Iterator[None]:
    """Forget tortoise's cached SQL around every test: it is keyed by connection name, not by
    dialect, so a PostgreSQL app after a SQLite one in this process would send "?" placeholders."""
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
    yield
    EXECUTOR_CACHE.clear()


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with cheap argon2id parameters: the tests are not about hashing cost,
    and the real parameters take ~0.3 s per sign-up or sign-in on a CI machine."""
    from argon2 import PasswordHasher

    import server.auth

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(server.auth, "_hasher", cheap)


def csrf_of(client: TestClient | httpx.Client) -> str:
    """Return the CSRF token the browser would send (fetching a page first if needed)."""
    token = client.cookies.get("dreiklang_csrf")
    if not token:
        client.get("/login")
        token = client.cookies.get("dreiklang_csrf")
    assert token, "the server set no CSRF cookie"
    return token


def signup(client: TestClient | httpx.Client, email: str, name: str) -> None:
    r = client.post(
        "/signup",
        data={"email": email, "name": name, "password": PASSWORD, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def login(client: TestClient | httpx.Client, email: str, password: str = PASSWORD) -> None:
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrftoken": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture
async def weber_and_jan(
    database_url: str, tmp_path: Path, fast_passwords: None
) -> AsyncIterator[dict[str, Any]]:
    """An open, migrated database (each configured kind) with a customer and an employee,
    keyed "weber" and "jan"; for tests of actions without a server."""
    from server.actions.accounts import create_user
    from server.db import close_database, open_database
    from server.models import Role

    settings = make_settings(database_url, tmp_path)
    await open_database(settings)
    try:
        yield {
            "weber": await create_user("weber@example.org", "Gisela Weber", PASSWORD,
                                       Role.CUSTOMER, ""),
            "jan": await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD,
                                     Role.EMPLOYEE, "Field service"),
        }  # fmt: skip
    finally:
        await close_database()


@pytest.fixture
def own_server_devices(browser: Any, signed_in_demo: Any, tmp_path: Path) -> Iterator[Any]:
    """Browsers (tests/test_pwa.Devices) on a demo server of the test's own, for tests that
    change what others' tests rely on (claims, roles, teams); no JavaScript errors allowed."""
    from tests.test_pwa import Devices

    with signed_in_demo.server(tmp_path) as server:
        d = Devices(browser, server, dict(signed_in_demo.states))
        try:
            yield d
        finally:
            d.close()
    assert d.errors == [], "JavaScript errors in the pages"
