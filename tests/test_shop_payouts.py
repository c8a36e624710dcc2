"""Red packets end to end: redeem over GraphQL, the outbox worker pays (or refunds) once."""

from __future__ import annotations

from app.ledger.verify import verify_ledger
from app.payouts.models import Payout, SandboxPayment
from app.payouts.provider import PermanentPayoutError, TransientPayoutError
from app.payouts.worker import PayoutWorker
from tests.test_payouts import Clock, Flaky
from tests.test_shop import MY_ORDERS, create_item, funded_player, points, redeem, remaining, staff


async def order_statuses(gql, token: str) -> list[str]:
    result = await gql(MY_ORDERS, {"first": 10}, token=token)
    return [e["node"]["status"] for e in result["data"]["me"]["orders"]["edges"]]


async def test_a_red_packet_that_fails_twice_is_paid_once(gql, app):
    op = await staff(gql, "+8613800138021")
    player = await funded_player(gql, "+8613800138022", 1000)
    token, player_id = player["accessToken"], player["player"]["id"]
    item = await create_item(gql, op["accessToken"], kind="CASH_RED_PACKET", pricePoints=200,
                             cashFen=188, stock=10)
    order = (await redeem(gql, token, item["id"], 2))["order"]
    payout_id = f"order:{order['id']}"
    provider = Flaky({payout_id: [TransientPayoutError("bank busy"), TimeoutError("slow")]})
    clock = Clock()
    worker = PayoutWorker(provider, app.state.settings, clock=clock)

    for _ in range(3):
        await worker.run_once()
        assert await order_statuses(gql, token) == ["PENDING_PAYOUT"] or provider.sends[payout_id] == 3
        clock.advance(3600)
    await worker.run_once()  # nothing left to do
    assert provider.sends[payout_id] == 3
    assert await order_statuses(gql, token) == ["PAID_OUT"]
    paid = await SandboxPayment.filter(payout_id=payout_id)
    assert [(p.amount_fen, p.recipient) for p in paid] == [(376, f"player:{player_id}")]
    assert (await Payout.get(id=payout_id)).attempts == 3
    assert await points(player_id) == 600
    assert (await verify_ledger()).ok


async def test_a_red_packet_that_fails_for_good_is_refunded(gql, app):
    op = await staff(gql, "+8613800138023")
    player = await funded_player(gql, "+8613800138024", 1000)
    token, player_id = player["accessToken"], player["player"]["id"]
    item = await create_item(gql, op["accessToken"], kind="CASH_RED_PACKET", pricePoints=300,
                             cashFen=500, stock=3, perPlayerLimit=1)
    order = (await redeem(gql, token, item["id"]))["order"]
    assert await points(player_id) == 700 and await remaining(gql, item["id"]) == 2
    payout_id = f"order:{order['id']}"
    provider = Flaky({payout_id: [PermanentPayoutError("account closed")]})
    worker = PayoutWorker(provider, app.state.settings, clock=Clock())
    await worker.run_once()
    await worker.run_once()

    assert await order_statuses(gql, token) == ["REFUNDED"]
    assert provider.sends[payout_id] == 1
    assert await SandboxPayment.filter(payout_id=payout_id).count() == 0
    assert await points(player_id) == 1000 and await remaining(gql, item["id"]) == 3
    again = await redeem(gql, token, item["id"])  # the limit came back with the refund
    assert again["errors"] == [] and again["order"]["status"] == "PENDING_PAYOUT"
    assert (await verify_ledger()).ok
