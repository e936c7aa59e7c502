from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.ids import new_id
from server.models.threads import ThreadKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from server.search import index_statements


async def index_threads_again(apps, schema_editor):
    """On SQLite, altering `threads.kind` rebuilt the table: its search index and the triggers
    that kept it in step went with the old one. Make them again (PostgreSQL keeps its own)."""
    conn = schema_editor.client
    if conn.capabilities.dialect == "postgres":
        return
    await conn.execute_script("DROP TABLE IF EXISTS threads_fts")
    for statement in index_statements("threads", False):
        await conn.execute_script(statement)

class Migration(migrations.Migration):
    dependencies = [('models', '0013_knowledge')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Space',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('name', fields.CharField(unique=True, max_length=60)),
                ('description', fields.CharField(default='', max_length=300)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('company', fields.BooleanField(default=False)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'spaces', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpaceMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('space', fields.ForeignKeyField('models.Space', source_field='space_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'space_members', 'app': 'models', 'unique_together': (('space', 'user'),), 'pk_attr': 'id', 'table_description': 'Someone who joined a space: they follow each new thread and post in it.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Thread',
            name='kind',
            field=fields.CharEnumField(default=ThreadKind.QUESTION, description='QUESTION: question\nIDEA: idea\nDISCUSSION: discussion\nPOST: post', enum_type=ThreadKind, max_length=16),
        ),
        ops.AddField(
            model_name='Thread',
            name='space',
            field=fields.ForeignKeyField('models.Space', source_field='space_id', null=True, db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.SET_NULL),
        ),
        ops.RunPython(index_threads_again, ops.RunPython.noop),
    ]
