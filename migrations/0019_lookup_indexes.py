from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_ledger_line_transaction')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='HostIdentity',
            index=Index(fields=['subject']),
        ),
        ops.AddIndex(
            model_name='MerchantPayment',
            index=Index(fields=['merchant_id', 'created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='MeterPeriod',
            index=Index(fields=['activity_id']),
        ),
        ops.AddIndex(
            model_name='Payout',
            index=Index(fields=['status', 'next_attempt_at', 'id']),
        ),
        ops.AddIndex(
            model_name='SceneClaim',
            index=Index(fields=['activity_id']),
        ),
    ]
