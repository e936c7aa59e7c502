from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.attachments import AttachmentKind, new_attachment_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_community')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Attachment',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_attachment_id, unique=True, db_index=True, max_length=24)),
                ('uploader', fields.ForeignKeyField('models.User', source_field='uploader_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('client_id', fields.CharField(max_length=64)),
                ('kind', fields.CharEnumField(description='IMAGE: image\nFILE: file', enum_type=AttachmentKind, max_length=8)),
                ('content_type', fields.CharField(max_length=100)),
                ('name', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('placeholder', fields.TextField(default='', unique=False)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'attachments', 'app': 'models', 'unique_together': (('uploader', 'client_id'),), 'indexes': [Index(fields=['message_id', 'created_at']), Index(fields=['message_id', 'position']), Index(fields=['uploader_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A photo or file uploaded for a thread, shown in its message once sent (unsent: swept).'},
            bases=['Model'],
        ),
    ]
