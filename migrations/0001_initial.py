from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='LoginCode',
            fields=[
                ('phone', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=20)),
                ('code_hash', fields.CharField(max_length=64)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('consumed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_code', 'app': 'models', 'pk_attr': 'phone', 'table_description': 'The current one-time code of a phone: one row per phone, replaced on each request.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Player',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('phone', fields.CharField(null=True, unique=True, max_length=20)),
                ('nickname', fields.CharField(max_length=40)),
                ('city', fields.CharField(null=True, max_length=40)),
                ('avatar_url', fields.CharField(null=True, max_length=500)),
                ('roles', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'player', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Anyone with an account: a citizen, and staff (designer, operator, merchant, admin).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuthSession',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('method', fields.CharField(max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoke_reason', fields.CharField(null=True, max_length=40)),
            ],
            options={'table': 'auth_session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A login: the family of rotating refresh tokens, revoked as one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HostIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issuer', fields.CharField(max_length=200)),
                ('subject', fields.CharField(max_length=200)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='host_identities', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'host_identity', 'app': 'models', 'unique_together': (('issuer', 'subject'),), 'pk_attr': 'id', 'table_description': "A player's (issuer, subject) at a host app that logs them in with a signed token."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('models.AuthSession', source_field='session_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refresh_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
