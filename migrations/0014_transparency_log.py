from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0013_account_closing')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LogPending',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transaction_id', fields.UUIDField()),
            ],
            options={'table': 'log_pending', 'app': 'models', 'pk_attr': 'id', 'table_description': "A committed ledger transaction waiting for its leaf: written in the ledger's own"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogLeaf',
            fields=[
                ('index', fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('transaction_id', fields.UUIDField(unique=True)),
                ('leaf_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'log_leaf', 'app': 'models', 'pk_attr': 'index', 'table_description': 'The leaf at `index`: one ledger transaction, its RFC 6962 leaf hash (hex).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogNode',
            fields=[
                ('key', fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('level', fields.SmallIntField()),
                ('index', fields.BigIntField()),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'log_node', 'app': 'models', 'pk_attr': 'key', 'table_description': "A perfect subtree's hash (hex): `level` ≥ 1, covering leaves"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogCheckpoint',
            fields=[
                ('size', fields.BigIntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('root', fields.CharField(max_length=64)),
                ('note', fields.TextField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'log_checkpoint', 'app': 'models', 'pk_attr': 'size', 'table_description': 'A signed tree head: the note as published.'},
            bases=['Model'],
        ),
    ]
