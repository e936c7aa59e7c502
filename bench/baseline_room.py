"""The baseline for the fan-out benchmark: the simplest possible chat room.

One WebSocket route, no database, no authentication, no sequence numbers: every text frame any
client sends is broadcast to every connected client with a naive loop. It runs under uvicorn
with the same WebSocket implementation and settings as `dreiklang serve` (server/cli.py), so
the difference between the two is what Dreiklang itself costs per frame and per connection.

    .venv/bin/python bench/baseline_room.py --port 8766
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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


async def healthz(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/healthz", healthz), WebSocketRoute("/ws", room)])


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the room on 127.0.0.1 with Dreiklang's uvicorn WebSocket settings."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    uvicorn.run(
        app,
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
