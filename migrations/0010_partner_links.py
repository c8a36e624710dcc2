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
    ]
