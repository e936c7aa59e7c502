"""Database lifecycle: connect, migrate, and refuse to run on an unmigrated schema."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate as run_migrations
from tortoise.migrations.executor import MigrationExecutor

from server.settings import Settings

APP_LABEL = "models"


class UnmigratedDatabase(RuntimeError):
    """The database schema is older than the code."""


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """Build the tortoise-orm configuration for these settings."""
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    connection: str | dict[str, Any] = url
    if url.startswith("sqlite://"):  # tortoise's engine, with IMMEDIATE transactions
        connection = {**expand_db_url(url), "engine": "server.adapters.tortoise.sqlite"}
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": ["server.models"],
                "migrations": "server.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_folder(settings: Settings) -> None:
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


async def pending_migrations(settings: Settings) -> list[str]:
    """Return the names of migrations not yet applied to the database."""
    config = tortoise_config(settings)
    executor = MigrationExecutor(get_connection("default"), config["apps"])
    steps = await executor.plan(None)
    return [step.migration.name for step in steps if not step.backward]


async def open_database(settings: Settings) -> None:
    """Connect and check the schema is current; raise UnmigratedDatabase if it is not."""
    _ensure_sqlite_folder(settings)
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    pending = await pending_migrations(settings)
    if pending:
        await Tortoise.close_connections()
        raise UnmigratedDatabase(
            f"the database at {redacted(settings.database_url)!r} needs migrations "
            f"{', '.join(pending)}; run `dreiklang migrate` first"
        )


async def close_database() -> None:
    """Close every connection."""
    await Tortoise.close_connections()


async def migrate(settings: Settings) -> None:
    """Apply all pending migrations."""
    _ensure_sqlite_folder(settings)
    await run_migrations(config=tortoise_config(settings))
    await Tortoise.close_connections()


def redacted(url: str) -> str:
    """Hide the password in a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
