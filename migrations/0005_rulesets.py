from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_planet')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RuleSet',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.IntField(unique=True)),
                ('content', fields.TextField(unique=False)),
                ('checksum', fields.CharField(max_length=64)),
                ('author', fields.CharField(max_length=80)),
                ('note', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('effective_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rule_set', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
