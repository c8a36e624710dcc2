from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_transparency_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PartnerLinkOffer',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('partner_id', fields.CharField(max_length=60)),
                ('external_id', fields.CharField(max_length=200)),
                ('phone_hash', fields.CharField(db_index=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('link', fields.ForeignKeyField('models.PartnerLink', source_field='link_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'partner_link_offer', 'app': 'models', 'unique_together': (('partner_id', 'external_id', 'phone_hash'),), 'pk_attr': 'id', 'table_description': "A partner's offer to link its id for a person to whoever proves the phone number the"},
            bases=['Model'],
        ),
    ]
