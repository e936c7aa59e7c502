from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models import FlagReason, ReviewState, new_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The audit log is never edited: the database itself refuses to change or delete an entry
# (only the people it names may become NULL, when an account goes).
SQLITE_GUARD = [
    "CREATE TRIGGER audit_entries_never_change BEFORE UPDATE OF action, details, target, "
    "reason, created_at, id ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are never changed'); END",
    "CREATE TRIGGER audit_entries_never_deleted BEFORE DELETE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are never deleted'); END",
]
POSTGRES_GUARD = [
    """CREATE FUNCTION audit_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are never deleted';
      END IF;
      IF NEW.id <> OLD.id OR NEW.action <> OLD.action OR NEW.details::text <> OLD.details::text
         OR NEW.target <> OLD.target OR NEW.reason <> OLD.reason
         OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'audit entries are never changed';
      END IF;
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER audit_entries_guard BEFORE UPDATE OR DELETE ON audit_entries "
    "FOR EACH ROW EXECUTE FUNCTION audit_entries_guard()",
]


async def guard_audit_log(apps, schema_editor):
    """Make the database refuse edits and deletions of audit entries."""
    conn = schema_editor.client
    postgres = conn.capabilities.dialect == "postgres"
    for statement in POSTGRES_GUARD if postgres else SQLITE_GUARD:
        await conn.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0009_desk')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Review',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=16)),
                ('target', fields.CharField(unique=True, max_length=40)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=ReviewState.PENDING, description='PENDING: pending\nDONE: done', enum_type=ReviewState, max_length=8)),
                ('flags', fields.IntField(default=0)),
                ('held', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('decided_by', fields.ForeignKeyField('models.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('decision', fields.CharField(default='', max_length=32)),
            ],
            options={'table': 'reviews', 'app': 'models', 'indexes': [Index(fields=['state', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'An item on the moderation queue: a flagged or held message, or a flagged thread. One row'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Flag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reporter', fields.ForeignKeyField('models.User', source_field='reporter_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('review', fields.ForeignKeyField('models.Review', source_field='review_id', db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.CASCADE)),
                ('target', fields.CharField(max_length=40)),
                ('reason', fields.CharEnumField(description='SPAM: spam\nABUSIVE: abusive\nOFF_TOPIC: off_topic\nCONFIDENTIAL: confidential\nOTHER: other', enum_type=FlagReason, max_length=16)),
                ('text', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'flags', 'app': 'models', 'unique_together': (('reporter', 'target'),), 'pk_attr': 'id', 'table_description': "One person's report of a message or thread. One per person and item (`target`)."},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='AuditEntry',
            options={'table': 'audit_entries', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who changed what about whom, and when. Rows are only ever added (server/actions/audit.py,'},
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='reason',
            field=fields.CharField(default='', max_length=500),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='target',
            field=fields.CharField(default='', db_index=True, max_length=40),
        ),
        ops.AddField(
            model_name='Message',
            name='held_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Message',
            name='hidden_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Message',
            name='hidden_reason',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Thread',
            name='hidden_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='hidden_reason',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Thread',
            name='locked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='muted_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='sanction_reason',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='User',
            name='suspended_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(guard_audit_log, ops.RunPython.noop),
    ]
