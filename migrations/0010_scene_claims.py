from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    # after 0010 (written in parallel, also on 0008), so the history stays one line
    dependencies = [('models', '0009_partner_links')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MeterPeriod',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=30)),
                ('meter_id', fields.CharField(max_length=200)),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
                ('consumption', fields.BigIntField()),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'meter_period', 'app': 'models', 'indexes': [Index(fields=['kind', 'meter_id', 'period_start'])], 'pk_attr': 'id', 'table_description': "A meter's credited billing period [period_start, period_end): the baseline scenes'"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SceneClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=30)),
                ('digest', fields.CharField(max_length=64)),
                ('dedup_key', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('partner_id', fields.CharField(max_length=60)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'scene_claim', 'app': 'models', 'unique_together': (('kind', 'digest'),), 'pk_attr': 'id', 'table_description': "The one activity credited for a real event two partners could both report (a meter's"},
            bases=['Model'],
        ),
    ]
