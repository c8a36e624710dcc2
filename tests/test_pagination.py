"""Relay page info on every paged list: both ends of a page, and whether items come before
or after it (forward pagination with `first`/`after`)."""

from __future__ import annotations

from app.ledger.service import Asset, credit, post
from tests.test_shop import CANCEL, create_item, funded_player, redeem, staff

LEDGER = """query($first: Int, $after: String) { me { ledger(first: $first, after: $after) {
  edges { cursor node { amount } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
CONFIRMED_ORDERS = """query($after: String) { shopOrders(status: CONFIRMED, first: 2, after: $after) {
  edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_pages_tell_both_ends_and_what_lies_either_side(gql):
    session = await gql.login()
    token, player_id = session["accessToken"], session["player"]["id"]
    for i in range(1, 6):
        await post("ACTIVITY", f"page{i}", credit(player_id, {Asset.CARBON_POINT: i}))

    async def page(first: int, after: str | None) -> dict:
        result = await gql(LEDGER, {"first": first, "after": after}, token=token)
        assert "errors" not in result, result
        return result["data"]["me"]["ledger"]

    first = await page(2, None)
    assert [e["node"]["amount"] for e in first["edges"]] == [5, 4]
    assert first["pageInfo"] == {
        "hasNextPage": True, "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"], "endCursor": first["edges"][1]["cursor"]}

    middle = await page(2, first["pageInfo"]["endCursor"])
    assert [e["node"]["amount"] for e in middle["edges"]] == [3, 2]
    assert middle["pageInfo"]["hasNextPage"] and middle["pageInfo"]["hasPreviousPage"]
    assert middle["pageInfo"]["startCursor"] == middle["edges"][0]["cursor"]

    last = await page(2, middle["pageInfo"]["endCursor"])
    assert [e["node"]["amount"] for e in last["edges"]] == [1]
    assert last["pageInfo"]["hasNextPage"] is False and last["pageInfo"]["hasPreviousPage"]
    assert last["pageInfo"]["startCursor"] == last["pageInfo"]["endCursor"] \
        == last["edges"][0]["cursor"]

    # after the very last item: nothing follows, everything comes before
    beyond = await page(2, last["pageInfo"]["endCursor"])
    assert beyond["edges"] == []
    assert beyond["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                  "startCursor": None, "endCursor": None}

    # one page holding the whole list: nothing on either side
    whole = await page(10, None)
    assert len(whole["edges"]) == 5
    assert not whole["pageInfo"]["hasNextPage"] and not whole["pageInfo"]["hasPreviousPage"]

    empty = await gql(LEDGER, {"first": 3}, token=(await gql.login("+8613700000042"))["accessToken"])
    assert empty["data"]["me"]["ledger"]["pageInfo"] == {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}


async def test_a_cursor_whose_item_left_a_filtered_list(gql):
    """The cursor's order was cancelled: it is no longer CONFIRMED, so nothing precedes the
    page that follows it in the CONFIRMED orders."""
    op = await staff(gql, "+8613800138071")
    player = await funded_player(gql, "+8613800138072", 1000)
    item = await create_item(gql, op["accessToken"], stock=10, pricePoints=100)
    orders = [(await redeem(gql, player["accessToken"], item["id"]))["order"] for _ in range(3)]
    assert all(orders)

    async def confirmed(after: str | None = None) -> dict:
        result = await gql(CONFIRMED_ORDERS, {"after": after}, token=op["accessToken"])
        assert "errors" not in result, result
        return result["data"]["shopOrders"]

    first = await confirmed()
    assert [e["node"]["id"] for e in first["edges"]] == [orders[2]["id"], orders[1]["id"]]
    cursor_of_newest = first["edges"][0]["cursor"]
    assert (await confirmed(cursor_of_newest))["pageInfo"]["hasPreviousPage"] is True

    cancelled = await gql(CANCEL, {"id": orders[2]["id"]}, token=op["accessToken"])
    assert cancelled["data"]["cancelOrder"]["order"]["status"] == "CANCELLED"
    following = await confirmed(cursor_of_newest)
    assert [e["node"]["id"] for e in following["edges"]] == [orders[1]["id"], orders[0]["id"]]
    assert following["pageInfo"]["hasPreviousPage"] is False
    assert following["pageInfo"]["hasNextPage"] is False
