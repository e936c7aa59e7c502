"""The baseline for the fan-out benchmark: the simplest possible chat room.

One WebSocket route, no database, no authentication, no sequence numbers: every text frame any
client sends is broadcast to every connected client with a naive loop. It runs under uvicorn
with the same WebSocket implementation and settings as `dreiklang serve` (server/cli.py), so
the difference between the two is what Dreiklang itself costs per frame and per connection.

For the many-threads workload (`fanout.py --workload threads`) a second route, `/threads`,
keeps one such room per thread: a socket follows the thread named in its query string
(`/threads?thread=t17`, or none to only send), and each frame goes to the followers of the
thread its JSON names, and back to its sender. With `--store PATH` it is the "storing room":
each frame is first written to SQLite with one INSERT and one COMMIT, the least a server that
keeps its messages must do.

    .venv/bin/python bench/baseline_room.py --port 8766
    .venv/bin/python bench/baseline_room.py --port 8767 --store /tmp/room.sqlite3
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

clients: set[WebSocket] = set()


async def room(ws: WebSocket) -> None:
    """Broadcast every text frame to everyone connected, the sender included."""
    await ws.accept()
    clients.add(ws)
    try:
        while True:
            msg = await ws.receive_text()
            for peer in tuple(clients):
                try:
                    await peer.send_text(msg)
                except Exception:  # a peer that went away must not stop the others
                    clients.discard(peer)
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(ws)


class ThreadRooms:
    """One naive room per thread, optionally storing every message before it is broadcast."""

    def __init__(self, store: sqlite3.Connection | None = None) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}
        self.store = store

    async def serve(self, ws: WebSocket) -> None:
        """Broadcast each frame to the followers of the thread it names and to its sender."""
        await ws.accept()
        follows = ws.query_params.get("thread")
        if follows:
            self.rooms.setdefault(follows, set()).add(ws)
        try:
            while True:
                msg = await ws.receive_text()
                data = json.loads(msg)
                thread = str(data["thread"])
                if self.store is not None:
                    # Blocking the loop on purpose: the simplest server that stores does so.
                    self.store.execute(
                        "INSERT INTO message (thread, client_id, body, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (thread, data.get("client_id"), str(data.get("body", "")), time.time()),
                    )
                    self.store.commit()
                audience = list(self.rooms.get(thread, ()))
                if ws not in audience:
                    audience.append(ws)  # hearing its own frame is the sender's acknowledgement
                for peer in audience:
                    try:
                        await peer.send_text(msg)
                    except Exception:  # a peer that went away must not stop the others
                        self.rooms.get(thread, set()).discard(peer)
        except WebSocketDisconnect:
            pass
        finally:
            if follows:
                self.rooms.get(follows, set()).discard(ws)


def open_store(path: Path) -> sqlite3.Connection:
    """Open the storing room's database: one table, WAL, SQLite's default (full) sync."""
    # WAL with synchronous=FULL is also what Dreiklang's SQLite connection runs with
    # (tortoise's pragmas): every COMMIT waits for its fsync in both.
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY, thread TEXT NOT NULL,"
        " client_id TEXT, body TEXT NOT NULL, created_at REAL NOT NULL)"
    )
    db.commit()
    return db


async def healthz(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def create_app(store: sqlite3.Connection | None = None) -> Starlette:
    """Build the room app; with a store, /threads writes each message before sending it."""
    rooms = ThreadRooms(store)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            WebSocketRoute("/ws", room),
            WebSocketRoute("/threads", rooms.serve),
        ]
    )


app = create_app()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the room on 127.0.0.1 with Dreiklang's uvicorn WebSocket settings."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--store", metavar="PATH", help="SQLite file: /threads stores every message first"
    )
    args = parser.parse_args(argv)
    served = create_app(open_store(Path(args.store))) if args.store else app
    uvicorn.run(
        served,
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
        proxy_headers=True,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
