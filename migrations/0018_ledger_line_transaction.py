from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_activity_local_date')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='LedgerLine',
            index=Index(fields=['transaction_id']),
        ),
    ]
