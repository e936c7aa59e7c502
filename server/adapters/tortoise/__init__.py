"""Where Dreiklang touches tortoise-orm's private parts (pinned to 1.x in pyproject.toml).

Each hook below has a test in tests/test_adapters.py that fails loudly when an upgrade
changes what it relies on.

1. **Statements from models** (`insert`, `update`): a transaction written as a script
   (server/txscript.py) builds its INSERTs and UPDATEs from model instances, with the columns
   tortoise would write (`Model._meta`) and each value as the field converts it
   (`Field.to_db_value`): defaults, `auto_now_add` times and enum values come from the model,
   never from a hand-written copy.
2. **Rows into models** (`from_row`): a row a script read (`UPDATE … RETURNING *`) becomes a
   model instance as a query would make it (`Model._init_from_db`).
3. **The SQLite engine** (`sqlite.py`, named as the engine in server/db.py): transactions
   that begin IMMEDIATE. On the embedded default the server and its push-worker child write
   to one SQLite file. tortoise begins a transaction with a deferred BEGIN: it reads from a
   snapshot and asks for the write lock at its first write. If the other process committed
   in between, SQLite cannot upgrade that snapshot and fails at once with "database is
   locked"; busy_timeout does not help (SQLITE_BUSY_SNAPSHOT). Seen as a rare 500 when a
   device was registered while the worker wrote. Here every transaction waits (up to
   busy_timeout) for the write lock before it reads. The server's own transactions already
   queue on tortoise's per-connection lock, so taking the file's lock early costs nothing
   within a process. (Offered upstream as an engine option: see docs/upstream.md.) Its module
   name must contain "sqlite": tortoise's migrations pick their schema editor by the client
   class's module name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from tortoise import timezone
from tortoise.fields import DatetimeField
from tortoise.models import Model

M = TypeVar("M", bound=Model)
Statement = tuple[str, list[Any]]


# -- statements from models -----------------------------------------------------------------


def table_of(model: type[Model]) -> str:
    return str(model._meta.db_table)


@cache
def _insert_plan(model: type[Model]) -> tuple[str, tuple[str, ...]]:
    """The INSERT tortoise would run for a model: its columns but generated ones (an
    auto-increment id), and the field names whose values fill them."""
    meta = model._meta
    names = tuple(name for name in meta.fields_db_projection if not meta.fields_map[name].generated)
    columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name in names)
    marks = ", ".join("?" * len(names))
    return f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({marks})', names  # noqa: S608


@cache
def columns_of(model: type[Model]) -> str:
    """The model's own columns, for `SELECT …` / `RETURNING …` by hand: a column the model
    does not know (PostgreSQL's generated search vector) stays in the database."""
    meta = model._meta
    return ", ".join(f'"{column}"' for column in meta.fields_db_projection.values())


def values_of(instance: Model, names: Iterable[str]) -> list[Any]:
    """Return fields' values as the database stores them (enums as values, now for
    auto_now_add, the model's defaults as set when it was built)."""
    fields = instance._meta.fields_map
    return [fields[name].to_db_value(getattr(instance, name), instance) for name in names]


def insert(instance: Model, *, on_conflict: tuple[str, ...] = (), returning: str = "") -> Statement:
    """Return the INSERT of a new model instance, as `(sql, params)` with `?` placeholders.

    `on_conflict` names the columns of a unique constraint: a row that exists already is left
    as it is (ON CONFLICT … DO NOTHING). `returning` adds a RETURNING clause.
    """
    sql, names = _insert_plan(type(instance))
    if on_conflict:
        sql += f" ON CONFLICT ({', '.join(on_conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {returning}"
    return sql, values_of(instance, names)


def insert_many(template: Model, rows: Sequence[dict[str, Any]]) -> tuple[str, list[list[Any]]]:
    """Return one INSERT and the params of many rows: `template` with the same fields set in
    each row (a batch needs no model instance per row)."""
    sql, names = _insert_plan(type(template))
    fields = template._meta.fields_map
    given = set(rows[0]) if rows else set()
    base = {
        n: fields[n].to_db_value(getattr(template, n), template) for n in names if n not in given
    }
    return sql, [
        [fields[n].to_db_value(row[n], template) if n in given else base[n] for n in names]
        for row in rows
    ]


@cache
def _defaults(model: type[Model]) -> tuple[tuple[str, Any, bool], ...]:
    """(field name, default, whether the default is a function to call) per insert column;
    `auto_now`/`auto_now_add` times count as the function "now"."""
    fields = model._meta.fields_map
    found = []
    for name in _insert_plan(model)[1]:
        field = fields[name]
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            found.append((name, timezone.now, True))
        else:
            found.append((name, field.default, callable(field.default)))
    return tuple(found)


def new_row(model: type[M], **values: Any) -> Statement:
    """Return the INSERT of a new row given some of its fields; every other column gets the
    model's default, as `model(**values)` would, without building a model (a hot path writes
    several rows per message)."""
    sql, _ = _insert_plan(model)
    fields = model._meta.fields_map
    params = []
    for name, default, call in _defaults(model):
        value = values[name] if name in values else default() if call else default
        params.append(fields[name].to_db_value(value, model))
    return sql, params


def column_of(model: type[Model], name: str) -> str:
    """Return the database column of a field (a foreign key's is "<name>_id")."""
    return str(model._meta.fields_db_projection[name])


def update(instance: Model, names: Iterable[str]) -> Statement:
    """Return the UPDATE of some fields of a stored instance, by its primary key."""
    model = type(instance)
    names = tuple(names)
    sets = ", ".join(f'"{column_of(model, name)}" = ?' for name in names)
    pk = model._meta.db_pk_column
    sql = f'UPDATE "{model._meta.db_table}" SET {sets} WHERE "{pk}" = ?'  # noqa: S608
    return sql, [*values_of(instance, names), instance.pk]


@cache
def _time_columns(model: type[Model]) -> tuple[str, ...]:
    return tuple(
        name for name, field in model._meta.fields_map.items()
        if isinstance(field, DatetimeField) and name in model._meta.fields_db_projection
    )  # fmt: skip


def from_row(model: type[M], row: dict[str, Any]) -> M:
    """Build a model instance from a row read by hand (all its columns), as a query would.

    SQLite returns times as text: they are read with the standard library's ISO parser first
    (tortoise's own is several times slower, and this runs once per message)."""
    for name in _time_columns(model):
        value = row.get(name)
        if isinstance(value, str):
            row[name] = datetime.fromisoformat(value)
    return model._init_from_db(**row)
