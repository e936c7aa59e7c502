from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_accounts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PushSubscription',
            name='language',
            field=fields.CharField(default='', max_length=8),
        ),
    ]
