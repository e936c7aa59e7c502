from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models import FollowState, PushJobState, new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Follow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='follows', on_delete=OnDelete.CASCADE)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='follows', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=FollowState.FOLLOWING, description='FOLLOWING: following\nMUTED: muted', enum_type=FollowState, max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'follows', 'app': 'models', 'unique_together': (('user', 'thread'),), 'pk_attr': 'id', 'table_description': 'Whether a user hears about a thread: set by writing in it, or by the follow button.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationIntent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='notification_intents', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='notification_intents', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('models.User', source_field='actor_id', db_constraint=True, to_field='id', related_name='notification_intents', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'notification_intents', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Something happened that may notify people. Written in the same transaction as the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationSettings',
            fields=[
                ('user', fields.OneToOneField('models.User', source_field='user_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='notification_settings', on_delete=OnDelete.CASCADE)),
                ('replies', fields.BooleanField(default=True)),
                ('mentions', fields.BooleanField(default=True)),
                ('status_changes', fields.BooleanField(default=True)),
                ('moderation', fields.BooleanField(default=True)),
                ('quiet_hours', fields.BooleanField(default=False)),
                ('quiet_start', fields.CharField(default='22:00', max_length=5)),
                ('quiet_end', fields.CharField(default='07:00', max_length=5)),
                ('time_zone', fields.CharField(default='Europe/Berlin', max_length=64)),
                ('urgent_in_quiet_hours', fields.BooleanField(default=True)),
            ],
            options={'table': 'notification_settings', 'app': 'models', 'pk_attr': 'user_id', 'table_description': "A user's push preferences: kinds, quiet hours in their own time zone."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PushSubscription',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='push_subscriptions', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.CharField(unique=True, max_length=1024)),
                ('p256dh', fields.CharField(max_length=128)),
                ('auth', fields.CharField(max_length=64)),
                ('label', fields.CharField(default='', max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=200)),
                ('last_error_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'push_subscriptions', 'app': 'models', 'pk_attr': 'id', 'table_description': "One device's Web Push subscription. An endpoint belongs to one user at a time."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PushJob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription', fields.ForeignKeyField('models.PushSubscription', source_field='subscription_id', db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='push_jobs', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', null=True, db_constraint=True, to_field='id', related_name='push_jobs', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='push_jobs', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=PushJobState.QUEUED, description='QUEUED: queued\nDONE: done\nFAILED: failed', enum_type=PushJobState, max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('not_before', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('outcome', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'push_jobs', 'app': 'models', 'indexes': [Index(fields=['state', 'not_before'])], 'pk_attr': 'id', 'table_description': 'A notification to deliver to one device, durable across restarts.'},
            bases=['Model'],
        ),
    ]
