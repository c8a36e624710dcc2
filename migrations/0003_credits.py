from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_ledger')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=30)),
                ('source', fields.CharField(max_length=80)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('local_date', fields.DateField()),
                ('distance_meters', fields.IntField(null=True)),
                ('steps', fields.IntField(null=True)),
                ('reduction_grams', fields.BigIntField(default=0)),
                ('points', fields.BigIntField(default=0)),
                ('growth', fields.BigIntField(default=0)),
                ('energy', fields.BigIntField(default=0)),
                ('status', fields.CharField(max_length=20)),
                ('reject_reason', fields.CharField(null=True, max_length=40)),
                ('reject_message', fields.CharField(null=True, max_length=300)),
                ('methodology_id', fields.CharField(null=True, max_length=80)),
                ('methodology_version', fields.IntField(null=True)),
                ('provenance', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'activity', 'app': 'models', 'indexes': [Index(fields=['player_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One credited (or refused) green action, with how its amounts were computed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DailyCredit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='daily_credits', on_delete=OnDelete.RESTRICT)),
                ('local_date', fields.DateField()),
                ('kind', fields.CharField(max_length=30)),
                ('reduction_grams', fields.BigIntField(default=0)),
                ('points', fields.BigIntField(default=0)),
                ('growth', fields.BigIntField(default=0)),
                ('energy', fields.BigIntField(default=0)),
                ('steps', fields.BigIntField(default=0)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'daily_credit', 'app': 'models', 'unique_together': (('player', 'local_date', 'kind'),), 'pk_attr': 'id', 'table_description': 'What a player was credited for one kind on one local day: the base of daily caps.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartnerRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner_id', fields.CharField(max_length=60)),
                ('record_id', fields.CharField(max_length=200)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(max_length=20)),
                ('reason', fields.CharField(null=True, max_length=40)),
                ('message', fields.CharField(null=True, max_length=300)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', null=True, db_constraint=True, to_field='id', related_name='partner_records', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'partner_record', 'app': 'models', 'unique_together': (('partner_id', 'record_id'),), 'indexes': [Index(fields=['partner_id', 'status', 'received_at'])], 'pk_attr': 'id', 'table_description': 'Every record a partner sent, kept with its outcome. (partner, record id) is unique forever.'},
            bases=['Model'],
        ),
    ]
