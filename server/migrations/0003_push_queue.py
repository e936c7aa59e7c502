from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_push')]

    initial = False

    operations = [
        ops.AddField(
            model_name='NotificationIntent',
            name='claimed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='NotificationIntent',
            name='expanded_upto',
            field=fields.CharField(default='', max_length=16),
        ),
        ops.AddField(
            model_name='NotificationIntent',
            name='viewers',
            field=fields.TextField(default='', unique=False),
        ),
        ops.AlterModelOptions(
            name='NotificationSettings',
            options={'table': 'notification_settings', 'app': 'models', 'pk_attr': 'user_id', 'table_description': "A user's push preferences: kinds, quiet hours in their own time zone."},
        ),
        ops.AddIndex(
            model_name='PushJob',
            index=Index(fields=['subscription_id', 'thread_id', 'state']),
        ),
    ]
