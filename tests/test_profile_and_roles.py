"""Profile editing, roles and the permission layer."""

from __future__ import annotations

import pytest
from strawberry.permission import PermissionExtension

from app.accounts.models import Player
from schema import build_schema

UPDATE = """
mutation UpdateProfile($input: ProfileInput!) {
  updateProfile(input: $input) {
    player { id nickname city avatarUrl }
    errors { code message field }
  }
}"""
SET_ROLES = """
mutation SetRoles($playerId: ID!, $roles: [Role!]!) {
  setPlayerRoles(playerId: $playerId, roles: $roles) {
    player { id } roles errors { code message field }
  }
}"""


async def test_update_profile(gql):
    session = await gql.login()
    result = await gql(
        UPDATE,
        {"input": {"nickname": "  绿色 出行 ", "city": "qingdao", "avatarUrl": "https://cdn.example.cn/a.png"}},
        token=session["accessToken"],
    )
    payload = result["data"]["updateProfile"]
    assert payload["errors"] == []
    assert payload["player"] == {
        "id": session["player"]["id"],
        "nickname": "绿色 出行",
        "city": "qingdao",
        "avatarUrl": "https://cdn.example.cn/a.png",
    }
    # Fields left out stay; null clears an optional one.
    cleared = await gql(UPDATE, {"input": {"avatarUrl": None}}, token=session["accessToken"])
    assert cleared["data"]["updateProfile"]["player"]["nickname"] == "绿色 出行"
    assert cleared["data"]["updateProfile"]["player"]["avatarUrl"] is None


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"nickname": ""}, "input.nickname"),
        ({"nickname": None}, "input.nickname"),
        ({"nickname": "x" * 21}, "input.nickname"),
        ({"nickname": "bad\u0000name"}, "input.nickname"),
        ({"city": "atlantis"}, "input.city"),
        ({"avatarUrl": "javascript:alert(1)"}, "input.avatarUrl"),
        ({"avatarUrl": "http://plain.example/a.png"}, "input.avatarUrl"),
        ({"nickname": "ok", "city": "atlantis"}, "input.city"),
    ],
)
async def test_bad_profile_input_changes_nothing(gql, changes, field):
    session = await gql.login()
    before = await Player.get(id=session["player"]["id"])
    result = await gql(UPDATE, {"input": changes}, token=session["accessToken"])
    if result["data"] is None:  # refused at the boundary (a control character): no resolver ran
        [error] = result["errors"]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}
    else:
        payload = result["data"]["updateProfile"]
        assert payload["player"] is None
        assert payload["errors"] == [
            {"code": "INVALID_INPUT", "message": payload["errors"][0]["message"], "field": field}
        ]
    after = await Player.get(id=session["player"]["id"])
    assert (after.nickname, after.city, after.avatar_url) == (
        before.nickname, before.city, before.avatar_url,
    )


async def test_update_profile_needs_login(gql):
    result = await gql(UPDATE, {"input": {"nickname": "x"}})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "caller_roles, allowed",
    [
        (["player"], False),
        (["player", "designer"], False),
        (["player", "operator"], False),
        (["player", "merchant"], False),
        (["player", "admin"], True),
    ],
)
async def test_only_admins_set_roles(gql, caller_roles, allowed):
    target = await gql.login("+8613800138111")
    caller = await gql.login("+8613800138222")
    await Player.filter(id=caller["player"]["id"]).update(roles=caller_roles)
    result = await gql(
        SET_ROLES,
        {"playerId": target["player"]["id"], "roles": ["OPERATOR"]},
        token=caller["accessToken"],
    )
    stored = (await Player.get(id=target["player"]["id"])).roles
    if allowed:
        assert result["data"]["setPlayerRoles"]["roles"] == ["OPERATOR", "PLAYER"]
        assert sorted(stored) == ["operator", "player"]
    else:
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert stored == ["player"]


async def test_roles_take_effect_without_logging_in_again(gql):
    caller = await gql.login("+8613800138222")
    target = await gql.login("+8613800138111")
    args = {"playerId": target["player"]["id"], "roles": ["DESIGNER"]}
    denied = await gql(SET_ROLES, args, token=caller["accessToken"])
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await Player.filter(id=caller["player"]["id"]).update(roles=["player", "admin"])
    granted = await gql(SET_ROLES, args, token=caller["accessToken"])
    assert granted["data"]["setPlayerRoles"]["errors"] == []


async def test_set_roles_on_unknown_player(gql):
    admin = await gql.login("+8613800138222")
    await Player.filter(id=admin["player"]["id"]).update(roles=["player", "admin"])
    for player_id, code in [("not-a-uuid", "INVALID_INPUT"),
                            ("00000000-0000-0000-0000-000000000000", "NOT_FOUND")]:
        result = await gql(SET_ROLES, {"playerId": player_id, "roles": ["ADMIN"]},
                           token=admin["accessToken"])
        assert result["data"]["setPlayerRoles"]["errors"][0]["code"] == code


def test_every_root_field_declares_its_permissions(settings):
    schema = build_schema(settings)
    roots = [schema.query, schema.mutation, schema.subscription]
    checked = 0
    for root in filter(None, roots):
        for field in root.__strawberry_definition__.fields:
            permissions = [
                p
                for ext in field.extensions
                if isinstance(ext, PermissionExtension)
                for p in ext.permissions
            ]
            assert permissions, f"{root.__name__}.{field.name} has no permission class"
            checked += 1
    assert checked >= 8
