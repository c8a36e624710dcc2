from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_credits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Friendship',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='following', on_delete=OnDelete.CASCADE)),
                ('friend', fields.ForeignKeyField('models.Player', source_field='friend_id', db_constraint=True, to_field='id', related_name='followers', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'friendship', 'app': 'models', 'unique_together': (('player', 'friend'),), 'pk_attr': 'id', 'table_description': '`player` follows `friend`: one-way, as the README explains.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Planet',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('player', fields.OneToOneField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='planet', on_delete=OnDelete.RESTRICT)),
                ('state', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active_theme', fields.CharField(null=True, max_length=40)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'planet', 'app': 'models', 'pk_attr': 'id', 'table_description': "A player's planet: the engine's state (JSON) and the theme they show."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='QuizAnswer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('player', fields.ForeignKeyField('models.Player', source_field='player_id', db_constraint=True, to_field='id', related_name='quiz_answers', on_delete=OnDelete.RESTRICT)),
                ('local_date', fields.DateField()),
                ('question_id', fields.CharField(max_length=60)),
                ('choice_id', fields.CharField(max_length=20)),
                ('correct', fields.BooleanField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'quiz_answer', 'app': 'models', 'unique_together': (('player', 'local_date'),), 'pk_attr': 'id', 'table_description': 'One answer per player and local day.'},
            bases=['Model'],
        ),
    ]
