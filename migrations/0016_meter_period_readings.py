from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0015_partner_link_offers')]

    initial = False

    operations = [
        ops.AddField(
            model_name='MeterPeriod',
            name='start_reading',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='MeterPeriod',
            name='end_reading',
            field=fields.BigIntField(null=True),
        ),
    ]
