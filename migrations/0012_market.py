from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

# The second wall behind the market's cursor lock: no two allocations of a batch share a
# serial, and an allocation's grams are its serial count. PostgreSQL: an exclusion
# constraint over each range (batch id x 10^12 + serial, so one numeric range per batch needs
# no extension); SQLite: triggers that refuse the insert.
POSTGRES = [
    "ALTER TABLE market_allocation ADD CONSTRAINT market_allocation_serials_counted CHECK "
    "(first_serial >= 0 AND last_serial < 1000000000000 AND first_serial <= last_serial "
    "AND grams = last_serial - first_serial + 1)",
    "ALTER TABLE market_allocation ADD CONSTRAINT market_allocation_no_overlap EXCLUDE USING gist "
    "(numrange(batch_id::numeric * 1000000000000 + first_serial, "
    "batch_id::numeric * 1000000000000 + last_serial, '[]') WITH &&)",
]
SQLITE = [
    "CREATE TRIGGER market_allocation_serials_counted BEFORE INSERT ON market_allocation "
    "WHEN NOT (NEW.first_serial >= 0 AND NEW.first_serial <= NEW.last_serial "
    "AND NEW.grams = NEW.last_serial - NEW.first_serial + 1) "
    "BEGIN SELECT RAISE(ABORT, 'market_allocation_serials_counted'); END",
    "CREATE TRIGGER market_allocation_no_overlap BEFORE INSERT ON market_allocation "
    "WHEN EXISTS (SELECT 1 FROM market_allocation a WHERE a.batch_id = NEW.batch_id "
    "AND a.first_serial <= NEW.last_serial AND a.last_serial >= NEW.first_serial) "
    "BEGIN SELECT RAISE(ABORT, 'market_allocation_no_overlap'); END",
]


async def no_overlapping_serials(apps, schema_editor) -> None:
    client = schema_editor.client
    statements = POSTGRES if client.capabilities.dialect == "postgres" else SQLITE
    for sql in statements:
        await client.execute_script(sql)


class Migration(migrations.Migration):
    dependencies = [('models', '0011_certification')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Buyer',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=120)),
                ('kind', fields.CharField(max_length=20)),
                ('contact', fields.CharField(null=True, max_length=200)),
                ('idempotency_key', fields.CharField(unique=True, max_length=200)),
                ('created_by', fields.CharField(max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'market_buyer', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who buys or retires certified grams. `idempotency_key` makes a retried create one buyer.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MarketCursor',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('certificates', fields.BigIntField(default=0)),
            ],
            options={'table': 'market_cursor', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row per inventory ("certified"): every sale locks it first (`FOR UPDATE` on'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MarketSale',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=40)),
                ('mode', fields.CharField(max_length=20)),
                ('buyer', fields.ForeignKeyField('models.Buyer', source_field='buyer_id', db_constraint=True, to_field='id', related_name='sales', on_delete=OnDelete.RESTRICT)),
                ('grams', fields.BigIntField()),
                ('price_fen_per_tonne', fields.BigIntField()),
                ('total_fen', fields.BigIntField()),
                ('shop_share_percent', fields.IntField()),
                ('shop_fund_fen', fields.BigIntField()),
                ('note', fields.CharField(null=True, max_length=300)),
                ('digest', fields.CharField(max_length=64)),
                ('idempotency_key', fields.CharField(unique=True, max_length=200)),
                ('created_by', fields.CharField(max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'market_sale', 'app': 'models', 'indexes': [Index(fields=['buyer_id', 'created_at']), Index(fields=['created_at', 'id'])], 'pk_attr': 'id', 'table_description': 'A sale or retirement and its certificate. Written once, never changed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MarketAllocation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sale', fields.ForeignKeyField('models.MarketSale', source_field='sale_id', db_constraint=True, to_field='id', related_name='allocations', on_delete=OnDelete.RESTRICT)),
                ('batch', fields.ForeignKeyField('models.CertifiedBatch', source_field='batch_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('first_serial', fields.BigIntField()),
                ('last_serial', fields.BigIntField()),
                ('grams', fields.BigIntField()),
            ],
            options={'table': 'market_allocation', 'app': 'models', 'indexes': [Index(fields=['sale_id', 'position'])], 'unique_together': (('batch', 'first_serial'), ('batch', 'last_serial')), 'pk_attr': 'id', 'table_description': 'Serials first_serial..last_serial (inclusive) of a certified batch, taken by a sale.'},
            bases=['Model'],
        ),
        ops.RunPython(no_overlapping_serials, reverse_code=ops.RunPython.noop),
    ]
