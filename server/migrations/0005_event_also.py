from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Event',
            name='also',
            field=fields.ForeignKeyField('models.User', source_field='also_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
    ]
