from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0012_market')]

    initial = False

    operations: list = [
        ops.AddField(
            model_name='Player',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Player',
            name='close_key',
            field=fields.CharField(null=True, max_length=200),
        ),
    ]
