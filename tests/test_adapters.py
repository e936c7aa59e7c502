"""The private parts of libraries we rely on (server/adapters/), one test per hook: each fails
loudly when an upgrade of tortoise-orm, aiosqlite or uvicorn changes what the hook needs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn as uvicorn_server
from tortoise.backends.base.executor import BaseExecutor
from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.schema_editor import SqliteSchemaEditor
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from server.adapters import tortoise as orm
from server.adapters import uvicorn
from server.adapters.aiosqlite import run_on_thread
from server.adapters.tortoise.sqlite import ImmediateSqliteClient
from server.models import Audience, Follow, FollowState, Message, NotificationIntent, Thread, User
from server.txscript import run_transaction
from tests.conftest import free_port

# -- tortoise: statements from models ----------------------------------------------------------


async def test_an_insert_writes_the_columns_tortoise_writes(weber_and_jan: dict[str, User]) -> None:
    for model in (Thread, Message, Follow, NotificationIntent):
        executor = BaseExecutor(model, get_connection("default"))
        sql, names = orm._insert_plan(model)
        assert list(names) == executor.regular_columns, model.__name__
        columns = sql.split("(", 1)[1].split(")", 1)[0].replace('"', "").split(", ")
        assert columns == [model._meta.fields_db_projection[name] for name in names]


async def test_a_row_written_from_a_model_reads_back_as_the_orm_writes_it(
    weber_and_jan: dict[str, User],
) -> None:
    weber = weber_and_jan["weber"]
    moment = datetime.now(UTC)
    by_orm = await Thread.create(title="ORM", author=weber, created_at=moment,
                                 staff_activity_at=moment, public_activity_at=moment)  # fmt: skip
    by_script = Thread(title="Script", author_id=weber.id, created_at=moment,
                       staff_activity_at=moment, public_activity_at=moment)  # fmt: skip

    def write() -> Any:
        yield orm.insert(by_script)
        yield orm.insert(
            Follow(user_id=weber.id, thread_id=by_script.id, created_at=moment),
            on_conflict=("user_id", "thread_id"),
        )
        yield orm.insert(  # a second follow: left alone, not an error
            Follow(user_id=weber.id, thread_id=by_script.id, state=FollowState.MUTED),
            on_conflict=("user_id", "thread_id"),
        )

    await run_transaction(write())
    fields = ("kind", "visibility", "status", "staff_seq", "public_seq", "staff_messages",
              "author_id", "created_at")  # fmt: skip
    orm_row = await Thread.filter(id=by_orm.id).values(*fields)
    script_row = await Thread.filter(id=by_script.id).values(*fields)
    assert orm_row == script_row, "defaults, enums and times are written alike"
    assert (await Follow.get(thread_id=by_script.id)).state == FollowState.FOLLOWING


async def test_an_update_of_some_fields_changes_only_them(weber_and_jan: dict[str, User]) -> None:
    thread = await Thread.create(title="Before", author=weber_and_jan["weber"])
    thread.title, thread.staff_seq = "After", 99  # staff_seq is not among the fields

    def write() -> Any:
        yield orm.update(thread, ["title"])

    await run_transaction(write())
    stored = await Thread.get(id=thread.id)
    assert (stored.title, stored.staff_seq) == ("After", 0)


async def test_a_row_read_by_hand_becomes_the_model_a_query_returns(
    weber_and_jan: dict[str, User],
) -> None:
    thread = await Thread.create(title="Rows", author=weber_and_jan["weber"])
    rows = await get_connection("default").execute_query_dict(
        "SELECT * FROM threads WHERE id = ?"
        if get_connection("default").capabilities.dialect == "sqlite"
        else "SELECT * FROM threads WHERE id = $1",
        [thread.id],
    )
    built = orm.from_row(Thread, rows[0])
    queried = await Thread.get(id=thread.id)
    for name in Thread._meta.fields_db_projection:
        assert getattr(built, name) == getattr(queried, name), name
    assert built.kind == queried.kind and isinstance(built.created_at, datetime)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Follow, {"user_id": "u", "thread_id": "t"}),
        (NotificationIntent, {"kind": "reply", "thread_id": "t", "actor_id": "a"}),
        (Message, {"id": "m", "thread_id": "t", "author_id": "a", "client_id": "c",
                   "body": "b", "html": "h", "audience": Audience.STAFF}),
    ],
)  # fmt: skip
def test_a_new_row_gets_the_defaults_a_model_instance_would(
    model: type[Any], values: dict[str, Any]
) -> None:
    moment = datetime.now(UTC)
    sql, params = orm.new_row(model, created_at=moment, **values)
    expected_sql, expected = orm.insert(model(created_at=moment, **values))
    assert sql == expected_sql
    assert params == expected


def test_a_batch_insert_takes_the_template_for_what_its_rows_leave_out() -> None:
    template = Message(thread_id="t", author_id="a", client_id="", body="", html="")
    sql, rows = orm.insert_many(template, [{"client_id": "one"}, {"client_id": "two"}])
    _, names = orm._insert_plan(Message)
    assert sql.startswith('INSERT INTO "messages"') and len(rows) == 2
    position = names.index("client_id")
    assert [row[position] for row in rows] == ["one", "two"]
    assert rows[0][names.index("audience")] == Audience.ALL.value


# -- tortoise: the SQLite engine -----------------------------------------------------------------


async def test_migrations_take_our_sqlite_client_for_sqlite(sqlite_url: str, tmp_path: Any) -> None:
    """tortoise picks the schema editor by the client class's module name ("sqlite")."""
    from server.db import close_database, open_database, tortoise_config
    from tests.conftest import make_settings

    settings = make_settings(sqlite_url, tmp_path)
    await open_database(settings)
    try:
        client = get_connection("default")
        assert isinstance(client, ImmediateSqliteClient)
        executor = MigrationExecutor(client, tortoise_config(settings)["apps"])
        assert isinstance(executor._schema_editor(), SqliteSchemaEditor)
    finally:
        await close_database()


# -- aiosqlite: one hop to the connection's thread -----------------------------------------------


async def test_a_function_runs_on_the_connections_own_thread_with_its_connection(
    sqlite_url: str, tmp_path: Any
) -> None:
    from server.db import close_database, open_database
    from tests.conftest import make_settings

    await open_database(make_settings(sqlite_url, tmp_path))
    try:
        client = get_connection("default")
        async with client.acquire_connection() as connection:

            def where(db: Any, offset: int) -> tuple[int, int]:
                (one,) = db.execute("SELECT 1 + ?", (offset,)).fetchone()
                return threading.get_ident(), one

            ident, answer = await run_on_thread(connection, where, 41)
            assert answer == 42
            assert ident != threading.get_ident(), "not on the event loop's thread"
            assert ident == connection._thread.ident, "on aiosqlite's own thread"
    finally:
        await close_database()


# -- uvicorn: a send finishes on its first step unless the socket is paused -----------------


class Probe:
    """A WebSocket app that sends frames by stepping uvicorn's send by hand, as the socket
    writer does, and records how each first step ended."""

    FRAME = "x" * 64 * 1024  # a big frame fills the client's buffers quickly
    MAX_FRAMES = 4_000  # 256 MiB: far beyond any socket buffer; then the test gives up

    def __init__(self, abort: bool = False) -> None:
        self.abort = abort  # drop the connection once paused, instead of waiting
        self.finished_at_once = 0
        self.paused: asyncio.Event = asyncio.Event()
        self.resumed: asyncio.Event = asyncio.Event()
        self.told_paused: list[bool] = []  # uvicorn.paused() before each send
        self.after_abort: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        for _ in range(self.MAX_FRAMES):
            self.told_paused.append(uvicorn.paused(send))
            rest = uvicorn.start(send({"type": "websocket.send", "text": self.FRAME}))
            if rest is None:
                self.finished_at_once += 1
                continue
            self.told_paused.append(uvicorn.paused(send))
            self.paused.set()  # flow control paused the socket: the rest needs a task
            if self.abort:
                await self.drop(receive, send, rest)
                return
            await rest
            self.resumed.set()
            break
        await send({"type": "websocket.close", "code": 1000})

    async def drop(self, receive: Any, send: Any, rest: Any) -> None:
        """Abort the paused connection; record what the app hears of it afterwards."""
        self.after_abort.append(f"abort: {uvicorn.abort(send)}")
        try:
            await rest
        except Exception as err:
            self.after_abort.append(f"send: {type(err).__name__}")
        self.after_abort.append(f"receive: {(await receive())['type']}")


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[tuple[Any, int]]:
    port = free_port()
    # As `dreiklang serve` runs it (server/cli.py): without compression, which would shrink
    # these frames to nothing and never fill a buffer.
    config = uvicorn_server.Config(app, host="127.0.0.1", port=port, ws="websockets-sansio",
                                   ws_per_message_deflate=False, log_level="warning",
                                   lifespan="off")  # fmt: skip
    server = uvicorn_server.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        yield app, port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def probe() -> AsyncIterator[tuple[Probe, int]]:
    async with serving(Probe()) as served:
        yield served


@pytest.fixture
async def aborting_probe() -> AsyncIterator[tuple[Probe, int]]:
    async with serving(Probe(abort=True)) as served:
        yield served


async def test_a_send_to_a_reading_client_finishes_at_once_and_a_paused_one_resumes(
    probe: tuple[Probe, int],
) -> None:
    app, port = probe
    async with connect(f"ws://127.0.0.1:{port}/", max_size=None, max_queue=1) as ws:
        first = await asyncio.wait_for(ws.recv(), 10)  # a reading client: no suspension
        assert first == Probe.FRAME
        # Now the client stops reading: buffers fill until flow control pauses the socket.
        await asyncio.wait_for(app.paused.wait(), 30)
        assert app.finished_at_once > 1, "sends finished on their first step while writable"
        assert not app.resumed.is_set()

        async def read_all() -> int:
            return 1 + sum([1 async for _ in ws])  # until the server closes

        reading = asyncio.create_task(read_all())  # reading again lets the paused send finish
        await asyncio.wait_for(app.resumed.wait(), 30)
        assert await asyncio.wait_for(reading, 30) == app.finished_at_once + 1, "none lost"
        # The last send that finished at once filled the buffer past the high-water mark.
        assert app.told_paused == [False] * app.finished_at_once + [True, True], (
            "uvicorn.paused() tells a paused socket from a writable one"
        )


async def test_aborting_a_paused_socket_resets_it_at_once_and_the_app_hears_of_it(
    aborting_probe: tuple[Probe, int],
) -> None:
    app, port = aborting_probe
    async with connect(f"ws://127.0.0.1:{port}/", max_size=None, max_queue=1) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        await asyncio.wait_for(app.paused.wait(), 30)  # the client stopped reading
        with pytest.raises(ConnectionClosedError) as closed:
            async with asyncio.timeout(30):
                async for _ in ws:  # reads what the kernel got before the reset, then fails
                    pass
        assert closed.value.rcvd is None, "no close frame: the buffers were thrown away"
    assert app.after_abort == ["abort: True", "send: ClientDisconnected",
                               "receive: websocket.disconnect"]  # fmt: skip


async def test_a_closed_socket_can_stop_reading_so_a_flood_is_not_parsed() -> None:
    heard: list[object] = []

    async def deaf(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1008, "reason": "too many frames"})
        # uvicorn resumes reading after a close, to hear the client's close reply.
        heard.append(uvicorn.stop_reading(send))
        heard.append(send.__self__.transport.is_reading())
        send.__self__.transport.close()  # not wait out the close handshake's 10 s timeout

    async with serving(deaf) as (_, port):
        ws = await connect(f"ws://127.0.0.1:{port}/", close_timeout=1)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1008
    assert heard == [True, False], "stopped reading"
