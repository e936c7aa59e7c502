from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from server.terms import terms

# Search (server/search.py) finds rows by their `terms`, the stems of their text
# (server/terms.py). SQLite keeps an FTS5 index over the column, in step through triggers;
# PostgreSQL a generated tsvector column with a GIN index. Both index the same stems.
INDEXED = (("messages", "body"), ("threads", "title"))
SQLITE = [
    statement
    for table, _ in INDEXED
    for statement in (
        f"CREATE VIRTUAL TABLE {table}_fts USING fts5(terms, content='{table}', "
        "content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
        f"CREATE TRIGGER {table}_fts_added AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {table}_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
        f"CREATE TRIGGER {table}_fts_removed AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {table}_fts({table}_fts, rowid, terms) "
        "VALUES ('delete', old.rowid, old.terms); END",
        f"CREATE TRIGGER {table}_fts_changed AFTER UPDATE OF terms ON {table} BEGIN "
        f"INSERT INTO {table}_fts({table}_fts, rowid, terms) "
        "VALUES ('delete', old.rowid, old.terms); "
        f"INSERT INTO {table}_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
        f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')",
    )
]
POSTGRES = [
    statement
    for table, _ in INDEXED
    for statement in (
        f"ALTER TABLE {table} ADD COLUMN search tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED",
        f"CREATE INDEX {table}_search ON {table} USING GIN (search)",
    )
]


async def index_for_search(apps, schema_editor):
    """Store the stems of every text written so far, then index them."""
    conn = schema_editor.client
    postgres = conn.capabilities.dialect == "postgres"
    for table, column in INDEXED:
        rows = await conn.execute_query_dict(f"SELECT id, {column} AS text FROM {table}")
        update = f"UPDATE {table} SET terms = {'$1' if postgres else '?'} WHERE id = {'$2' if postgres else '?'}"
        for row in rows:
            if row["text"]:
                await conn.execute_query(update, [terms(row["text"]), row["id"]])
    for statement in POSTGRES if postgres else SQLITE:
        await conn.execute_script(statement)

class Migration(migrations.Migration):
    dependencies = [('models', '0010_moderation')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='terms',
            field=fields.TextField(default='', unique=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='terms',
            field=fields.TextField(default='', unique=False),
        ),
        ops.RunPython(index_for_search, ops.RunPython.noop),
    ]
