from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models import Audience, Role, ThreadKind, ThreadStatus, Visibility, new_id
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('display_name', fields.CharField(max_length=80)),
                ('role', fields.CharEnumField(default=Role.CUSTOMER, description='CUSTOMER: customer\nEMPLOYEE: employee\nMODERATOR: moderator\nADMIN: admin', enum_type=Role, max_length=16)),
                ('team', fields.CharField(default='', max_length=60)),
                ('password_hash', fields.CharField(max_length=200)),
                ('language', fields.CharField(default='', max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_tokens', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Thread',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('kind', fields.CharEnumField(default=ThreadKind.QUESTION, description='QUESTION: question\nIDEA: idea\nDISCUSSION: discussion', enum_type=ThreadKind, max_length=16)),
                ('visibility', fields.CharEnumField(default=Visibility.PUBLIC, description='PUBLIC: public\nINTERNAL: internal', enum_type=Visibility, max_length=16)),
                ('status', fields.CharEnumField(default=ThreadStatus.OPEN, description='OPEN: open\nANSWERED: answered\nCLOSED: closed', enum_type=ThreadStatus, max_length=16)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('staff_seq', fields.BigIntField(default=0)),
                ('public_seq', fields.BigIntField(default=0)),
                ('staff_messages', fields.IntField(default=0)),
                ('public_messages', fields.IntField(default=0)),
                ('staff_activity_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('public_activity_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'threads', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.RESTRICT)),
                ('client_id', fields.CharField(max_length=64)),
                ('seq', fields.BigIntField(default=0)),
                ('audience', fields.CharEnumField(default=Audience.ALL, description='ALL: all\nSTAFF: staff', enum_type=Audience, max_length=8)),
                ('body', fields.TextField(unique=False)),
                ('html', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'messages', 'app': 'models', 'unique_together': (('author', 'client_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('audience', fields.CharEnumField(description='ALL: all\nSTAFF: staff', enum_type=Audience, max_length=8)),
                ('staff_seq', fields.BigIntField()),
                ('public_seq', fields.BigIntField(null=True)),
                ('name', fields.CharField(max_length=32)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'events', 'app': 'models', 'unique_together': (('thread', 'staff_seq'), ('thread', 'public_seq')), 'pk_attr': 'id', 'table_description': 'One visible change in a thread, in the order the database committed it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReadState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('read_messages', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'read_states', 'app': 'models', 'unique_together': (('user', 'thread'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
