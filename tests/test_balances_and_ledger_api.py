"""`me { balances }` and `me { ledger }` over GraphQL (credits.graphql's Balances and Ledger)."""

from __future__ import annotations

from pathlib import Path

from graphql import parse, print_ast

from app.accounts.models import Player
from app.ledger.service import Asset, credit, post

CONTRACT = (Path(__file__).parent / "contract" / "credits.graphql").read_text()


def operation(name: str) -> str:
    """One operation of the contract file, unchanged."""
    document = parse(CONTRACT)
    [found] = [d for d in document.definitions if getattr(d, "name", None) and d.name.value == name]
    return print_ast(found)


async def run(gql, name: str, variables=None, token=None) -> dict:
    return await gql(operation(name), variables, token=token)


async def test_balances_start_at_zero_and_follow_the_ledger(gql):
    session = await gql.login()
    token, player_id = session["accessToken"], session["player"]["id"]
    empty = await run(gql, "Balances", token=token)
    assert empty["data"]["me"]["balances"] == {
        "carbonPoints": 0, "growth": 0, "energy": 0, "reductionGrams": 0}
    await post("ACTIVITY", "a1", credit(player_id, {Asset.CARBON_POINT: 12, Asset.GROWTH: 30,
                                                    Asset.CO2E_GRAMS: 600}))
    await post("STEPS", "s1", credit(player_id, {Asset.ENERGY: 8, Asset.GROWTH: 5}))
    after = await run(gql, "Balances", token=token)
    assert after["data"]["me"]["balances"] == {
        "carbonPoints": 12, "growth": 35, "energy": 8, "reductionGrams": 600}


async def test_ledger_pages_newest_first_without_gaps_or_repeats(gql):
    session = await gql.login()
    token, player_id = session["accessToken"], session["player"]["id"]
    for i in range(1, 8):
        await post("ACTIVITY", f"a{i}", credit(player_id, {Asset.CARBON_POINT: i}))
    seen, after = [], None
    while True:
        page = (await run(gql, "Ledger", {"first": 3, "after": after}, token))["data"]["me"]["ledger"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["amount"] for n in seen] == [7, 6, 5, 4, 3, 2, 1]
    assert [n["balanceAfter"] for n in seen] == [28, 21, 15, 10, 6, 3, 1]
    assert all(n["asset"] == "CARBON_POINT" and n["type"] == "ACTIVITY" for n in seen)
    assert len({n["id"] for n in seen}) == 7 and all(len(n["hash"]) == 64 for n in seen)


async def test_bad_page_arguments_are_invalid_input(gql):
    session = await gql.login()
    for variables in ({"first": 0}, {"first": 1000}, {"after": "garbage!"}):
        result = await run(gql, "Ledger", variables, session["accessToken"])
        assert result["errors"][0]["extensions"]["code"] == "INVALID_INPUT", variables
        for field in ("activities", "orders"):  # the player's other paged lists answer alike
            query = (f"query($first: Int, $after: String) {{ me {{ {field}(first: $first, "
                     "after: $after) { edges { cursor } } } }")
            result = await gql(query, variables, token=session["accessToken"])
            assert result["errors"][0]["extensions"]["code"] == "INVALID_INPUT", (field, variables)
            assert result["errors"][0]["extensions"]["field"] == ("after" if "after" in variables
                                                                  else "first")


async def test_balances_need_login(gql):
    result = await run(gql, "Balances")
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_may_read_another_players_balances(gql):
    """Player.balances passes SelfOrStaff for admins and operators, not only the player."""
    session = await gql.login()
    other = await gql.login("+8613700000001")
    query = 'mutation($id: ID!) { setPlayerRoles(playerId: $id, roles: []) { player { balances { carbonPoints } } } }'
    await Player.filter(id=session["player"]["id"]).update(roles=["player", "admin"])
    result = await gql(query, {"id": other["player"]["id"]}, token=session["accessToken"])
    assert result["data"]["setPlayerRoles"]["player"]["balances"] == {"carbonPoints": 0}
