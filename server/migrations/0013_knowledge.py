from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.ids import new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from server.search import index_statements


async def index_articles(apps, schema_editor):
    """Index articles' stems for search, as messages and threads are (0011)."""
    conn = schema_editor.client
    for statement in index_statements("articles", conn.capabilities.dialect == "postgres"):
        await conn.execute_script(statement)

class Migration(migrations.Migration):
    dependencies = [('models', '0012_mentions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Article',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('html', fields.TextField(unique=False)),
                ('terms', fields.TextField(default='', unique=False)),
                ('public', fields.BooleanField(default=False)),
                ('revision', fields.IntField(default=1)),
                ('source_thread', fields.ForeignKeyField('models.Thread', source_field='source_thread_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'articles', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A knowledge article as its newest revision left it (title, text, rendered HTML and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Revision',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('article', fields.ForeignKeyField('models.Article', source_field='article_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('public', fields.BooleanField(default=False)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('based_on', fields.IntField(default=0)),
                ('restored_from', fields.IntField(null=True)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'revisions', 'app': 'models', 'unique_together': (('article', 'number'),), 'pk_attr': 'id', 'table_description': 'One saved state of an article: who, when, from which revision they started.'},
            bases=['Model'],
        ),
        ops.RunPython(index_articles, ops.RunPython.noop),
    ]
