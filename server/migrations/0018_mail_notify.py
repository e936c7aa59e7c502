from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_mail')]

    initial = False

    operations = [
        ops.AddField(
            model_name='NotificationSettings',
            name='email',
            field=fields.CharField(default='', max_length=16),
        ),
        ops.AddField(
            model_name='NotificationIntent',
            name='mailed',
            field=fields.BooleanField(default=False),
        ),
        ops.CreateModel(
            name='MailItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='mail_items', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='mail_items', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='mail_items', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mail_items', 'app': 'models', 'indexes': [Index(fields=['due_at']), Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': "One notification for one person's next e-mail. Written by the push worker as it expands"},
            bases=['Model'],
        ),
    ]
