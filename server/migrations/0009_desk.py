from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models import ThreadStatus, new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from datetime import UTC, datetime


async def teams_and_waiting(apps, schema_editor):
    """Make a team of each name staff already carry, and put open questions on the queue."""
    conn = schema_editor.client
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    marks = ", ".join(f"${i}" if mark == "$1" else "?" for i in (1, 2, 3))
    rows = await conn.execute_query_dict(
        "SELECT DISTINCT team FROM users WHERE role <> 'customer' AND team <> ''"
    )
    for row in rows:
        await conn.execute_query(
            f"INSERT INTO teams (id, name, created_at) VALUES ({marks})",
            [new_id(), row["team"], datetime.now(UTC)],
        )
    await conn.execute_query(
        "UPDATE threads SET waiting_since = created_at WHERE status = 'open' "
        "AND kind = 'question' AND visibility = 'public'"
    )



class Migration(migrations.Migration):
    dependencies = [('models', '0008_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Team',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('name', fields.CharField(unique=True, max_length=60)),
                ('lead', fields.ForeignKeyField('models.User', source_field='lead_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'teams', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A team of employees (Billing, Field service): questions are routed to it, saved replies'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedReply',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('title', fields.CharField(max_length=80)),
                ('body', fields.TextField(unique=False)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'saved_replies', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A reply an employee inserts from the composer (`/`): personal (owner) or shared with a'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='assignments',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='escalations',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='new_questions',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='work_days',
            field=fields.CharField(default='12345', max_length=7),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='work_end',
            field=fields.CharField(default='17:00', max_length=5),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='work_hours',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='NotificationSettings',
            name='work_start',
            field=fields.CharField(default='08:00', max_length=5),
        ),
        ops.AlterField(
            model_name='Thread',
            name='status',
            field=fields.CharEnumField(default=ThreadStatus.OPEN, description='OPEN: open\nANSWERED: answered\nRESOLVED: resolved\nCLOSED: closed', enum_type=ThreadStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Thread',
            name='answer',
            field=fields.ForeignKeyField('models.Message', source_field='answer_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Thread',
            name='assignee',
            field=fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Thread',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='first_response_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='resolved_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='team',
            field=fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Thread',
            name='waiting_since',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(teams_and_waiting, ops.RunPython.noop),
    ]
