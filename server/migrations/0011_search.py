from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from server.terms import terms
from server.search import index_statements

# Search (server/search.py) finds rows by their `terms`, the stems of their text
# (server/terms.py). SQLite keeps an FTS5 index over the column, in step through triggers;
# PostgreSQL a generated tsvector column with a GIN index. Both index the same stems.
INDEXED = (("messages", "body"), ("threads", "title"))


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
    for table, _ in INDEXED:
        for statement in index_statements(table, postgres):
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
