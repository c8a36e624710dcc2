from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The models declare certified_activity's relations with db_constraint=False (a close writes
# a million rows in one statement: a foreign key check per row, locking the activity row,
# doubled its time on PostgreSQL), which this version of Tortoise's schema editor ignores
# when it creates the table: on PostgreSQL the constraints are dropped here. (SQLite checks
# a foreign key with an index lookup and no lock, and cannot drop one without rebuilding the
# table: there they stay.)
DROP_FOREIGN_KEYS = """
DO $$ DECLARE c record;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint
           WHERE conrelid = 'certified_activity'::regclass AND contype = 'f' LOOP
    EXECUTE format('ALTER TABLE certified_activity DROP CONSTRAINT %I', c.conname);
  END LOOP;
END $$"""


async def drop_foreign_keys(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(DROP_FOREIGN_KEYS)


class Migration(migrations.Migration):
    dependencies = [('models', '0010_scene_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActivityWithdrawal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity', fields.OneToOneField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('previous_status', fields.CharField(max_length=20)),
                ('reason', fields.CharField(max_length=40)),
                ('note', fields.CharField(null=True, max_length=300)),
                ('withdrawn_by', fields.CharField(max_length=80)),
                ('idempotency_key', fields.CharField(unique=True, max_length=200)),
                ('reversed_amounts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('owed_amounts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'activity_withdrawal', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An activity withdrawn after it was credited (a partner recalled it, an operator found'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CertifiedBatch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=80)),
                ('period', fields.CharField(max_length=7)),
                ('methodology_id', fields.CharField(max_length=80)),
                ('methodology_version', fields.IntField()),
                ('kind', fields.CharField(max_length=20)),
                ('serial_prefix', fields.CharField(max_length=80)),
                ('first_serial', fields.BigIntField()),
                ('last_serial', fields.BigIntField()),
                ('grams', fields.BigIntField()),
                ('activity_count', fields.IntField()),
                ('participants', fields.IntField()),
                ('manifest', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('content_hash', fields.CharField(max_length=64)),
                ('closed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_by', fields.CharField(max_length=80)),
                ('idempotency_key', fields.CharField(null=True, unique=True, max_length=200)),
            ],
            options={'table': 'certified_batch', 'app': 'models', 'indexes': [Index(fields=['period', 'methodology_id', 'methodology_version'])], 'pk_attr': 'id', 'table_description': 'A sealed, supplementary or adjustment batch of one period and methodology version.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CertifiedActivity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=False, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('batch', fields.ForeignKeyField('models.CertifiedBatch', source_field='batch_id', db_constraint=False, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=20)),
                ('grams', fields.BigIntField()),
                ('first_serial', fields.BigIntField()),
                ('last_serial', fields.BigIntField()),
                ('player_id', fields.UUIDField()),
                ('scene', fields.CharField(max_length=30)),
                ('local_date', fields.DateField()),
                ('partner', fields.CharField(max_length=80)),
            ],
            options={'table': 'certified_activity', 'app': 'models', 'unique_together': (('activity', 'kind'),), 'indexes': [Index(fields=['batch_id', 'first_serial'])], 'pk_attr': 'id', 'table_description': "One activity's part of a batch. `kind` is `certified` (its grams, serials"},
            bases=['Model'],
        ),
        ops.RunPython(drop_foreign_keys, reverse_code=ops.RunPython.noop),
    ]
