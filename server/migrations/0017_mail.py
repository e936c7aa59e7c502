from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.mail import OutboundMailState
from tortoise import fields
from tortoise.indexes import Index
from datetime import UTC, datetime


async def staff_confirmed(apps, schema_editor):
    """Count the addresses of existing staff as confirmed: an admin made those accounts.
    Customers who signed up before confirmation existed confirm theirs from Settings."""
    conn = schema_editor.client
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    await conn.execute_query(
        f"UPDATE users SET email_verified_at = {mark} WHERE role <> 'customer'",
        [datetime.now(UTC)],
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0016_attachments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutboundMail',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('recipient', fields.CharField(max_length=254)),
                ('subject', fields.CharField(max_length=300)),
                ('text', fields.TextField(unique=False)),
                ('html', fields.TextField(default='', unique=False)),
                ('reply_to', fields.CharField(default='', max_length=254)),
                ('headers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('message_id', fields.CharField(max_length=200)),
                ('state', fields.CharEnumField(default=OutboundMailState.QUEUED, description='QUEUED: queued\nSENT: sent\nFAILED: failed', enum_type=OutboundMailState, max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'outbound_mails', 'app': 'models', 'indexes': [Index(fields=['state', 'due_at'])], 'pk_attr': 'id', 'table_description': 'One mail to one address, stored once per key and sent by whichever server process'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='email_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='pending_email',
            field=fields.CharField(default='', max_length=254),
        ),
        ops.RunPython(staff_confirmed, ops.RunPython.noop),
    ]
