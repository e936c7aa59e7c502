from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.ideas import IdeaStatus
from server.models.ids import new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0014_spaces')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerNote',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('customer', fields.ForeignKeyField('models.User', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('body', fields.TextField(unique=False)),
                ('html', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customer_notes', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A private staff note about a customer (not about a thread: that is a staff note).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.User', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('tag', fields.CharField(db_index=True, max_length=30)),
                ('added_by', fields.ForeignKeyField('models.User', source_field='added_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customer_tags', 'app': 'models', 'unique_together': (('customer', 'tag'),), 'pk_attr': 'id', 'table_description': 'A staff tag on a customer ("key account", "solar"), lower case, once per customer.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Helpful',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'helpful_marks', 'app': 'models', 'unique_together': (('message', 'user'),), 'pk_attr': 'id', 'table_description': 'Someone found a reply helpful: at most once per person and reply (a unique key).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Idea',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('thread', fields.OneToOneField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='idea', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=IdeaStatus.NEW, description='NEW: new\nUNDER_REVIEW: under_review\nPLANNED: planned\nIN_PROGRESS: in_progress\nDONE: done\nDECLINED: declined\nDUPLICATE: duplicate', enum_type=IdeaStatus, max_length=16)),
                ('votes', fields.IntField(default=0)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('merged_into', fields.ForeignKeyField('models.Idea', source_field='merged_into_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('source', fields.ForeignKeyField('models.Message', source_field='source_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('status_changed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ideas', 'app': 'models', 'indexes': [Index(fields=['status', 'votes']), Index(fields=['votes', 'created_at'])], 'pk_attr': 'id', 'table_description': 'What the board shows of an idea. Its title, description (first message) and talk'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdeaTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idea', fields.ForeignKeyField('models.Idea', source_field='idea_id', db_constraint=True, to_field='id', related_name='tags', on_delete=OnDelete.CASCADE)),
                ('tag', fields.CharField(db_index=True, max_length=30)),
            ],
            options={'table': 'idea_tags', 'app': 'models', 'unique_together': (('idea', 'tag'),), 'pk_attr': 'id', 'table_description': 'A tag on an idea (lower case, as the board filters by it).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdeaVote',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idea', fields.ForeignKeyField('models.Idea', source_field='idea_id', db_constraint=True, to_field='id', related_name='vote_rows', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idea_votes', 'app': 'models', 'unique_together': (('idea', 'user'),), 'indexes': [Index(fields=['idea_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A vote for an idea: at most one per person (a unique key, whatever races).'},
            bases=['Model'],
        ),
    ]
