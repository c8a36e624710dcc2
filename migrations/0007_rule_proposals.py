from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from app.rulesets.models import ProposalStatus

class Migration(migrations.Migration):
    dependencies = [('models', '0006_shop')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RuleProposal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('content', fields.TextField(unique=False)),
                ('checksum', fields.CharField(max_length=64)),
                ('note', fields.CharField(max_length=500)),
                ('effective_from', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('proposed_by', fields.CharField(max_length=80)),
                ('proposed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('idempotency_key', fields.CharField(null=True, max_length=100)),
                ('status', fields.CharEnumField(default=ProposalStatus.PENDING, description='PENDING: pending\nAPPROVED: approved\nREJECTED: rejected\nWITHDRAWN: withdrawn', enum_type=ProposalStatus, max_length=16)),
                ('decided_by', fields.CharField(null=True, max_length=80)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decision_note', fields.CharField(default='', max_length=500)),
                ('published_version', fields.IntField(null=True)),
            ],
            options={'table': 'rule_proposal', 'app': 'models', 'unique_together': (('proposed_by', 'idempotency_key'),), 'pk_attr': 'id', 'table_description': 'Rules files proposed by one designer, approved or rejected by another.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='RuleSet',
            name='approved_by',
            field=fields.CharField(null=True, max_length=80),
        ),
    ]
