from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_miniprogram_identity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PartnerLink',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('partner_id', fields.CharField(max_length=60)),
                ('external_id', fields.CharField(max_length=200)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='partner_links', on_delete=OnDelete.RESTRICT)),
                ('active', fields.BooleanField(null=True, default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'partner_link', 'app': 'models', 'unique_together': (('partner_id', 'external_id', 'active'),), 'indexes': [Index(fields=['player_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A partner-scoped id linked to a player, until the player removes the link.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartnerLinkCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('partner_id', fields.CharField(max_length=60)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='partner_link_codes', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('link', fields.ForeignKeyField('models.PartnerLink', source_field='link_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'partner_link_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time code the player asked for in the app and gives one partner, which sends it'},
            bases=['Model'],
        ),
    ]
