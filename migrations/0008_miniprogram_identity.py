from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_rule_proposals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MiniProgramIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('platform', fields.CharField(max_length=10)),
                ('app_id', fields.CharField(max_length=64)),
                ('openid', fields.CharField(max_length=128)),
                ('unionid', fields.CharField(null=True, db_index=True, max_length=128)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='miniprogram_identities', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'miniprogram_identity', 'app': 'models', 'unique_together': (('platform', 'app_id', 'openid'),), 'pk_attr': 'id', 'table_description': "A player's openid in one WeChat or Alipay mini-program, with WeChat's unionid."},
            bases=['Model'],
        ),
    ]
