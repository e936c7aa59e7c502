"""The database lifecycle: refuse an unmigrated schema, migrate idempotently, keep data, hide
passwords; and the secret key the first start creates."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.connection import get_connection
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from server.actions.accounts import create_user
from server.actions.messages import send_message
from server.actions.threads import start_thread
from server.db import UnmigratedDatabase, close_database, migrate, open_database, redacted
from server.models import Message, Role, Thread, User
from server.settings import load_settings
from tests.conftest import NOT_LIVE, PASSWORD, ROOT, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")


def with_password(url: str, password: str) -> str:
    """Put a password into a database URL (the test PostgreSQL trusts local users anyway)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, SECRET_KEY="cli-test")
    return env


def run_cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=cli_env(tmp_path, database_url), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


# -- refusing an unmigrated database ------------------------------------------------------------


async def test_opening_an_unmigrated_database_fails_naming_the_fix(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = with_password(empty_database_url, "hunter2")
    settings = make_settings(url, tmp_path)
    with pytest.raises(UnmigratedDatabase) as caught:
        await open_database(settings)
    message = str(caught.value)
    assert "run `dreiklang migrate` first" in message
    assert "0001_initial" in message
    assert "hunter2" not in message
    assert redacted(url) in message
    # The failed open closed its connections: migrating and opening now work.
    await migrate(settings)
    await open_database(settings)
    await close_database()


def test_serve_refuses_an_unmigrated_database_with_exit_code_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    done = run_cli(tmp_path, f"sqlite://{empty}", "serve", "--port", "9")
    assert done.returncode == 2, done.stderr
    assert "run `dreiklang migrate` first" in done.stderr
    assert str(empty) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


# -- migrating ------------------------------------------------------------------------------------


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'db' / 'dreiklang.sqlite3'}"  # the folder is created, too
    for _ in range(2):
        done = run_cli(tmp_path, url, "migrate")
        assert done.returncode == 0, done.stderr
        assert "is up to date" in done.stdout
    assert (tmp_path / "db" / "dreiklang.sqlite3").exists()


async def test_data_survives_migrating_again(empty_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(empty_database_url, tmp_path)
    await migrate(settings)
    await open_database(settings)
    try:
        author = await create_user("jan@nordlicht.example", "Jan", PASSWORD, Role.EMPLOYEE)
        thread, _, _ = await start_thread(
            NOT_LIVE, author, "Umspannwerk Hafen", "Kabelschaden", "c-1"
        )
        await send_message(NOT_LIVE, author, thread.id, "Umgeschaltet.", "c-2")
    finally:
        await close_database()
    await migrate(settings)
    await migrate(settings)
    await open_database(settings)
    try:
        assert await User.filter(email="jan@nordlicht.example").count() == 1
        stored = await Thread.get(id=thread.id)
        assert stored.title == "Umspannwerk Hafen" and stored.staff_seq == 2
        bodies = [m.body for m in await Message.filter(thread_id=thread.id).order_by("seq")]
        assert bodies == ["Kabelschaden", "Umgeschaltet."]
    finally:
        await close_database()


# -- redacting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://dk:s3cret@db.example:5432/dreiklang", "postgres://dk:***@db.example:5432/dreiklang"),
        ("postgresql://dk:p@ss:w0rd@db.example/dk", "postgresql://dk:***@db.example/dk"),
        ("postgres://dk@db.example/dk", "postgres://dk@db.example/dk"),
        ("postgres://db.example/dk", "postgres://db.example/dk"),
        ("sqlite://data/dreiklang.sqlite3", "sqlite://data/dreiklang.sqlite3"),
        ("sqlite://:memory:", "sqlite://:memory:"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    ],
)  # fmt: skip
def test_redacted_hides_the_password_and_nothing_else(url: str, shown: str) -> None:
    assert redacted(url) == shown


# -- the secret key ------------------------------------------------------------------------------


def test_a_secret_key_is_created_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "fresh" / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = load_settings()
    path = data_dir / "secret_key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = str(first.secret_key)
    assert len(key) >= 43, "at least 256 bits"
    assert path.read_text().strip() == key
    assert first.database_url == f"sqlite://{data_dir / 'dreiklang.sqlite3'}"
    again = load_settings()
    assert str(again.secret_key) == key, "sessions survive a restart"
    assert repr(again.secret_key) != repr(key) and key not in repr(again), "a Secret, not a str"


def test_two_data_folders_get_different_secret_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    keys = set()
    for name in ("a", "b"):
        monkeypatch.setenv("DATA_DIR", str(tmp_path / name))
        keys.add(str(load_settings().secret_key))
    assert len(keys) == 2


def test_a_secret_key_from_the_environment_wins_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert str(load_settings().secret_key) == "from-the-environment"
    assert not (tmp_path / "data" / "secret_key").exists()


async def test_a_transaction_on_sqlite_holds_the_write_lock_from_its_start(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The push-worker child writes to the same file. A transaction that reads and then writes
    must not let it commit in between: SQLite would fail the write at once ("database is
    locked", busy_timeout does not apply), as a device registration once did with a 500."""
    settings = make_settings(sqlite_url, tmp_path)
    await open_database(settings)
    try:
        user = await create_user("weber@example.org", "Gisela Weber", PASSWORD, Role.CUSTOMER, "")
        worker = sqlite3.connect(str(settings.sqlite_path), timeout=0, isolation_level=None)
        update = "UPDATE users SET team = ? WHERE id = ?"
        async with in_transaction() as conn:
            assert await User.filter(id=user.id).using_db(conn).count() == 1  # a read first
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                worker.execute(update, ("worker", user.id))  # the other process waits its turn
            await conn.execute_query(update, ["server", user.id])
        worker.execute(update + " AND team = 'server'", ("worker", user.id))
        worker.close()
        assert (await User.get(id=user.id)).team == "worker"  # both, one after the other
    finally:
        await close_database()


async def test_a_transaction_that_cannot_get_the_write_lock_fails_and_frees_the_connection(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Past busy_timeout the transaction fails with a database error; the process's connection
    is free again for the next query (tortoise's own context kept it locked)."""
    settings = make_settings(sqlite_url, tmp_path)
    await open_database(settings)
    try:
        client = get_connection("default")
        assert isinstance(client, SqliteClient)
        client.pragmas["busy_timeout"] = 0  # read when the connection opens: do not wait 5 s
        await client.close()
        worker = sqlite3.connect(str(settings.sqlite_path), isolation_level=None)
        worker.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with in_transaction():
                pass
        worker.execute("ROLLBACK")
        worker.close()
        assert await User.all().count() == 0
        async with in_transaction() as conn:
            assert await User.all().using_db(conn).count() == 0
    finally:
        await close_database()
