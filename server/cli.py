"""The `dreiklang` command: serve, migrate, demo, push-worker, user add."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import sys
from collections.abc import Sequence

from tortoise import Tortoise

from server.db import UnmigratedDatabase, migrate, open_database, redacted
from server.models import Role
from server.settings import Settings, load_settings


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from server.app import create_app

    try:
        asyncio.run(_check_schema(settings))
    except UnmigratedDatabase as err:
        print(f"dreiklang: {err}", file=sys.stderr)
        return 2
    settings = settings.with_overrides(host=host or settings.host, port=port or settings.port)
    app = create_app(settings)
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise stall live delivery for tens of milliseconds.
    gc.collect()
    gc.freeze()
    print(f"Dreiklang on http://{settings.host}:{settings.port}  (database: "
          f"{redacted(settings.database_url)}, broker: {settings.broker_url})")  # fmt: skip
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=1024 * 1024,  # larger frames close the socket (1009); ws.py errors on >128 KiB
        ws_per_message_deflate=False,  # costs ~50% more CPU per frame; frames are small
        proxy_headers=True,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    return 0


def _push_worker(settings: Settings, wake_pipe: bool) -> int:
    import logging

    from push.api import run_worker

    logging.basicConfig(level=logging.INFO, format="push worker: %(levelname)s %(message)s")
    try:
        asyncio.run(run_worker(settings, wake_pipe))
    except UnmigratedDatabase as err:
        print(f"dreiklang: {err}", file=sys.stderr)
        return 2
    return 0


async def _check_schema(settings: Settings) -> None:
    await open_database(settings)
    await Tortoise.close_connections()


async def _migrate(settings: Settings) -> None:
    await migrate(settings)
    print(f"database {redacted(settings.database_url)} is up to date")


async def _demo(settings: Settings) -> None:
    from server.demo import load_demo

    await migrate(settings)
    await open_database(settings)
    try:
        lines = await load_demo()
    finally:
        await Tortoise.close_connections()
    print("\n".join(lines))


async def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    from server.actions.accounts import create_user
    from server.errors import ActionError

    password = args.password or getpass.getpass("password: ")
    try:
        await open_database(settings)
    except UnmigratedDatabase as err:
        print(f"dreiklang: {err}", file=sys.stderr)
        return 2
    try:
        user = await create_user(args.email, args.name, password, Role(args.role), args.team)
    except ActionError as err:
        print(f"dreiklang: {err.message}", file=sys.stderr)
        return 1
    finally:
        await Tortoise.close_connections()
    print(f"created {user.role.value} {user.display_name} <{user.email}>")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dreiklang", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("migrate", help="apply database migrations")
    demo = sub.add_parser("demo", help="load the demo company, print sign-ins, then serve")
    demo.add_argument("--no-serve", action="store_true", help="load the demo data and exit")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    worker = sub.add_parser(
        "push-worker", help="run the Web Push worker alone (scale-out: a Procfile process)"
    )
    worker.add_argument(
        "--wake-pipe", action="store_true", help=argparse.SUPPRESS
    )  # started by `serve`: woken through stdin, stops when it closes
    user = sub.add_parser("user", help="manage accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create an account (staff accounts come from here)")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.EMPLOYEE.value)
    add.add_argument("--team", default="")
    add.add_argument("--password", help="prompted for when left out")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if args.command == "demo":
        asyncio.run(_demo(settings))
        from server.demo import demo_settings

        return 0 if args.no_serve else _serve(demo_settings(settings), args.host, args.port)
    if args.command == "push-worker":
        return _push_worker(settings, args.wake_pipe)
    if args.command == "user" and args.user_command == "add":
        return asyncio.run(_add_user(settings, args))
    return 2


if __name__ == "__main__":
    sys.exit(main())
