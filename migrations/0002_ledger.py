from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerAccount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(max_length=80)),
                ('asset', fields.CharField(max_length=20)),
                ('balance', fields.BigIntField(default=0)),
                ('allow_negative', fields.BooleanField(default=False)),
                ('line_count', fields.BigIntField(default=0)),
                ('last_hash', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'ledger_account', 'app': 'models', 'unique_together': (('owner', 'asset'),), 'pk_attr': 'id', 'table_description': "One owner's balance in one asset. `owner` is 'player:<id>' or 'system:<name>'."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerTransaction',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=40)),
                ('idempotency_key', fields.CharField(unique=True, max_length=200)),
                ('reference', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_transaction', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transaction', fields.ForeignKeyField('models.LedgerTransaction', source_field='transaction_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.RESTRICT)),
                ('account', fields.ForeignKeyField('models.LedgerAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.RESTRICT)),
                ('seq', fields.BigIntField()),
                ('asset', fields.CharField(max_length=20)),
                ('amount', fields.BigIntField()),
                ('balance_after', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'ledger_line', 'app': 'models', 'unique_together': (('account', 'seq'),), 'pk_attr': 'id', 'table_description': 'A posting: `amount` moved into (positive) or out of (negative) an account.'},
            bases=['Model'],
        ),
    ]
