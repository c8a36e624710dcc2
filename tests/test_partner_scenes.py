"""Partner records of scenes beyond travel, over the partner endpoint and GraphQL: every
shipped scene credited by hand from its published factor, each refusal, household meters'
billing periods, one credit for one real event across partners, partners' scenes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from app.credits.models import Activity, MeterPeriod, PartnerRecord, SceneClaim
from app.credits.reasons import REASON_TEXTS
from app.credits.signatures import sign
from app.ledger.models import LedgerLine, LedgerTransaction
from app.ledger.service import Asset, balances
from app.ledger.verify import verify_ledger
from app.settings import PartnerConfig
from tests.conftest import ENGLISH, PARTNER_ID, PARTNER_SECRETS, GraphQLClient
from tests.partner_client import CST, send, trip, yesterday_at
from tests.test_partner_batches import FALLBACK, comparable, ledger_types, planet_of

CITY, GRID_B, BANK, ALL = "city-scenes", "grid-b", "bank-sz", "all-scenes"
SECRETS = {CITY: "city-scenes-secret-0123456789abcdefghij", GRID_B: "grid-b-secret-0123456789abcdefghijklmn",
           BANK: "bank-sz-secret-0123456789abcdefghijklmno", PARTNER_ID: PARTNER_SECRETS[1],
           ALL: "all-scenes-secret-0123456789abcdefghijkl"}
PARTNERS = [
    PartnerConfig(id=PARTNER_ID, name="Shenzhen Metro", secrets=PARTNER_SECRETS),
    PartnerConfig(id=CITY, name="City services", secrets=[SECRETS[CITY]],
                  scenes=["quantity", "baseline", "event"]),
    PartnerConfig(id=GRID_B, name="Second utility", secrets=[SECRETS[GRID_B]],
                  scenes=["household_electricity"]),
    PartnerConfig(id=BANK, name="City Bank", secrets=[SECRETS[BANK]],
                  scenes=["e_statement", "online_transfer", "online_payment"]),
    PartnerConfig(id=ALL, name="City app", secrets=[SECRETS[ALL]],
                  scenes=["travel", "quantity", "baseline", "event"]),
]
MY_ACTIVITIES = """query { me { activities(first: 50) { edges { node {
  id kind reductionGrams pointsAwarded growthAwarded status rejectReason rejectReasonText provenance
  methodology { id version } } } } } }"""
BALANCES = "query { me { balances { carbonPoints growth energy reductionGrams } } }"


@pytest.fixture
async def http(make_app):
    application = await make_app(partners=PARTNERS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://testserver", headers=ENGLISH) as c:
        c.gql = GraphQLClient(c, application)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
async def player(http):
    return await http.gql.login()


def scene(record_id: str, subject: str, kind: str, ago: timedelta = timedelta(hours=1),
          **fields) -> dict:
    occurred = datetime.now(CST) - ago
    return {"id": record_id, "subject": subject, "kind": kind, "occurredAt": occurred.isoformat(),
            **fields}


def bill(record_id: str, subject: str, start: str, end: str, readings: tuple[int, int],
         size: int = 2, meter: str = "M-1", kind: str = "household_electricity") -> dict:
    return scene(record_id, subject, kind, meter_id=meter, period_start=start, period_end=end,
                 start_reading=readings[0], end_reading=readings[1], household_size=size)


async def post(http, records: list[dict], partner: str = CITY) -> list[dict]:
    response = await send(http, records, partner=partner, secret=SECRETS[partner])
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def credited_growth(activity_id: str) -> int:
    """The growth the activity's own ledger credit gave (the planet's egg rewards apart)."""
    lines = await LedgerLine.filter(transaction__reference=f"activity:{activity_id}",
                                    asset=Asset.GROWTH.value, amount__gt=0)
    return sum(line.amount for line in lines)


async def node_of(http, token: str, activity_id: str) -> dict:
    page = (await http.gql(MY_ACTIVITIES, token=token))["data"]["me"]["activities"]["edges"]
    [node] = [e["node"] for e in page if e["node"]["id"] == activity_id]
    return node


async def published_factors(http, kind: str) -> list[dict]:
    """The factors the `methodologies` query publishes for the methodology covering `kind`."""
    listing = (await http.gql("{ methodologies { kinds factors { key source } } }"))["data"]
    [factors] = [m["factors"] for m in listing["methodologies"] if kind in m["kinds"]]
    return factors


# kind, its record fields, grams by hand from the published factor, the factor's key and value
ONE_RECORD = [
    # 100 kWh × 420 g/kWh (Shanghai 2024)
    ("rooftop_pv", {"system_id": "PV-7", "period_start": "2026-10-01", "period_end": "2026-11-01",
                    "generated_kwh": 100}, 42000, "rooftop_pv.factor", "420"),
    # 2,500 g of paper × 1,200 g/kg
    ("recycling", {"station_id": "S-1", "receipt_no": "R-1", "material": "paper", "weight_g": 2500},
     3000, "recycling.varieties.paper", "1200"),
    # 800 g × 1,500 g/kg
    ("e_waste", {"station_id": "S-1", "receipt_no": "R-2", "weight_g": 800}, 1200, "e_waste.factor", "1500"),
    # 2,000 g × 3,000 g/kg
    ("clothes", {"bin_id": "B-1", "drop_id": "D-1", "weight_g": 2000}, 6000, "clothes.factor", "3000"),
    # one refrigerator × 100 kg
    ("appliances", {"recycler_id": "AR-1", "order_no": "O-1", "appliance": "refrigerator", "count": 1},
     100000, "appliances.varieties.refrigerator", "100000"),
    ("e_statement", {"bank_id": "BK", "statement_id": "ST-1"}, 30, "e_statement.factor", "30"),
    ("online_transfer", {"bank_id": "BK", "transaction_id": "T-1"}, 10, "online_transfer.factor", "10"),
    ("online_payment", {"bank_id": "BK", "transaction_id": "T-2"}, 5, "online_payment.factor", "5"),
    # 40 kWh × 596.7 g/kWh = 23,868 g
    ("ev_charging", {"operator_id": "EV", "session_id": "C-1", "energy_kwh": 40}, 23868,
     "ev_charging.factor", "596.7"),
    ("island_boat", {"ticket_no": "TK-1", "sailing_date": "2026-11-30"}, 1500, "island_boat.factor", "1500"),
    ("clean_plate", {"canteen_id": "CT", "tray_photo_id": "P-1"}, 250, "clean_plate.factor", "250"),
    ("garbage_sorting", {"station_id": "G-1", "checkin_id": "CK-1", "verified": True}, 20,
     "garbage_sorting.amount", "20"),
    ("reusable_cup", {"cafe_id": "CF", "receipt_no": "R-9", "verified": True}, 30, "reusable_cup.amount", "30"),
    # household of 2, 30 days: baseline 3 kWh × 2 × 30 = 180 kWh; used 150: 30 kWh × 536.6 g
    ("household_electricity", {"meter_id": "E-1", "period_start": "2026-09-01", "period_end": "2026-10-01",
                               "start_reading": 1000, "end_reading": 1150, "household_size": 2},
     16098, "household_electricity.factors.2022-01-01", "536.6"),
    # household of 2, 30 days: baseline 180 L × 2 × 30 = 10,800 L; used 8,000: 2.8 m3 × 300 g
    ("household_water", {"meter_id": "W-1", "period_start": "2026-09-01", "period_end": "2026-10-01",
                         "start_reading": 100000, "end_reading": 108000, "household_size": 2},
     840, "household_water.factors.2020-01-01", "300"),
]


@pytest.mark.parametrize("kind, fields, grams, factor_key, factor", ONE_RECORD,
                         ids=[case[0] for case in ONE_RECORD])
async def test_one_record_of_each_scene_credits_its_published_factor(http, player, kind, fields, grams,
                                                                     factor_key, factor):
    pid, token = player["player"]["id"], player["accessToken"]
    partner = BANK if kind in ("e_statement", "online_transfer", "online_payment") else CITY
    [result] = await post(http, [scene(f"{kind}-1", pid, kind, **fields)], partner)
    points, growth = grams // 8, grams * 100 // 1000  # 8 g a point, 100 growth a kg
    assert result == {"id": f"{kind}-1", "status": "accepted", "activityId": result["activityId"],
                      "reductionGrams": grams, "points": points}, result
    node = await node_of(http, token, result["activityId"])
    assert (node["kind"], node["reductionGrams"], node["pointsAwarded"], node["growthAwarded"],
            node["status"], node["rejectReasonText"]) == (kind, grams, points, growth, "ACCEPTED", None)
    provenance = json.loads(node["provenance"])
    assert provenance["factors"][factor_key] == factor
    published = {f["key"]: f["source"] for f in await published_factors(http, kind)}
    assert provenance["sources"] == {key: published[key] for key in provenance["factors"]}
    assert provenance["sources"][factor_key] and provenance["rounding"].startswith("grams = floor(")
    # the row keeps what varies per record; sources and rounding come from the version
    kept = (await Activity.get(id=result["activityId"])).provenance
    assert set(kept) == {"factors", "capsApplied", "inputs"} and kept["factors"][factor_key] == factor
    for name, value in fields.items():
        if name in provenance["inputs"]:
            assert provenance["inputs"][name] == str(value)
    balance = (await http.gql(BALANCES, token=token))["data"]["me"]["balances"]
    assert (balance["reductionGrams"], balance["carbonPoints"]) == (grams, points)
    assert await credited_growth(result["activityId"]) == growth
    assert balance["growth"] >= growth
    assert (await verify_ledger()).ok


async def test_household_electricity_three_monthly_bills_overlap_backwards_and_two_partners(http, player):
    pid, token = player["player"]["id"], player["accessToken"]
    # a household of 2 below the city's 3 kWh a person a day: the baseline is the city's
    first = await post(http, [bill("aug", pid, "2026-08-01", "2026-09-01", (0, 150))])
    second = await post(http, [bill("sep", pid, "2026-09-01", "2026-10-01", (150, 320))])
    third = await post(http, [bill("oct", pid, "2026-10-01", "2026-11-01", (320, 420))])
    # 31 days: 6 × 31 = 186 kWh, used 150, 36 kWh × 536.6 g = 19,317.6 -> 19,317
    # 30 days: 180, used 170: 10 × 536.6 = 5,366; 31 days: 186, used 100: 86 × 536.6 = 46,147.6
    assert [r[0]["reductionGrams"] for r in (first, second, third)] == [19317, 5366, 46147]
    node = await node_of(http, token, third[0]["activityId"])
    inputs = json.loads(node["provenance"])["inputs"]
    assert (inputs["baseline.rule"], inputs["baseline"], inputs["consumption"]) == ("city_per_capita", "186", "100")
    total = 19317 + 5366 + 46147
    assert (await balances(pid))[Asset.CO2E_GRAMS] == total

    overlap = await post(http, [bill("mid", pid, "2026-09-15", "2026-10-15", (300, 350))])
    backwards = await post(http, [bill("back", pid, "2026-11-01", "2026-12-01", (420, 400))])
    # the November bill starts below October's end reading of 420: the meter ran backwards
    between = await post(http, [bill("reset", pid, "2026-11-01", "2026-12-01", (380, 400))])
    assert [(r[0]["status"], r[0]["reason"]) for r in (overlap, backwards, between)] == [
        ("rejected", "PERIOD_OVERLAP"), ("rejected", "READING_BACKWARDS"), ("rejected", "READING_BACKWARDS")]
    assert "420" in between[0]["message"]

    # the October bill again, from a second utility (another record id): credited once
    [again] = await post(http, [bill("grid-b-oct", pid, "2026-10-01", "2026-11-01", (320, 420))], GRID_B)
    assert again == {"id": "grid-b-oct", "status": "duplicate", "activityId": third[0]["activityId"]}
    kept = await PartnerRecord.get(partner_id=GRID_B, record_id="grid-b-oct")
    assert (kept.status, str(kept.activity_id)) == ("duplicate", third[0]["activityId"])
    [resent] = await post(http, [bill("grid-b-oct", pid, "2026-10-01", "2026-11-01", (320, 420))], GRID_B)
    assert resent == again
    assert (await balances(pid))[Asset.CO2E_GRAMS] == total
    assert await MeterPeriod.filter(meter_id="M-1").count() == 3
    assert await SceneClaim.filter(kind="household_electricity").count() == 3
    assert (await verify_ledger()).ok


async def test_a_household_above_the_city_figure_is_compared_with_its_own_average(http, player):
    pid, token = player["player"]["id"], player["accessToken"]
    # one person, 31 days: the city's 93 kWh; used 200: no saving, but the bill joins the history
    [august] = await post(http, [bill("a", pid, "2026-08-01", "2026-09-01", (0, 200), size=1, meter="B")])
    assert (august["status"], august["reason"]) == ("rejected", "NO_SAVING")
    # September, 30 days: its own average 200 × 30 / 31 = 193 kWh; used 150: 43 × 536.6 = 23,073.8
    [september] = await post(http, [bill("s", pid, "2026-09-01", "2026-10-01", (200, 350), size=1, meter="B")])
    assert (september["status"], september["reductionGrams"]) == ("accepted", 23073)
    inputs = json.loads((await node_of(http, token, september["activityId"]))["provenance"])["inputs"]
    assert (inputs["baseline.rule"], inputs["baseline"], inputs["baseline.periods"]) == (
        "own_average", "193", "2026-08-01–2026-09-01")
    # gas compares with the household's own periods only: the first bill has none
    gas = [bill(f"gas-{i}", pid, start, end, readings, meter="G", kind="household_gas")
           for i, (start, end, readings) in enumerate([("2026-08-01", "2026-09-01", (0, 62)),
                                                       ("2026-09-01", "2026-10-01", (62, 112))])]
    [first, second] = [(await post(http, [record]))[0] for record in gas]
    assert (first["status"], first["reason"]) == ("rejected", "NO_BASELINE")
    # 62 × 30 / 31 = 60 m3 against 50 used: 10 m3 × 2,184 g
    assert (second["status"], second["reductionGrams"], second["points"]) == ("accepted", 21840, 2730)
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 23073 + 21840


async def test_the_same_reading_from_two_partners_at_once_credits_once(http, player):
    pid = player["player"]["id"]
    record = bill("oct", pid, "2026-10-01", "2026-11-01", (320, 420), meter="C")
    results = await asyncio.gather(post(http, [record]), post(http, [dict(record, id="b-oct")], GRID_B),
                                   post(http, [dict(record, id="c-oct")], CITY))
    statuses = sorted(r[0]["status"] for r in results)
    assert statuses == ["accepted", "duplicate", "duplicate"]
    assert len({r[0]["activityId"] for r in results}) == 1
    assert await LedgerTransaction.filter(type="ACTIVITY_CREDIT").count() == 1
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 86 * 5366 // 10  # 186 − 100 kWh × 536.6 g
    assert (await verify_ledger()).ok


async def test_a_ticket_reported_by_two_partners_credits_once(http, player):
    pid = player["player"]["id"]
    record = scene("boat-1", pid, "island_boat", ticket_no="TK-9", sailing_date="2026-11-30")
    [first] = await post(http, [record])
    [second] = await post(http, [dict(record, id="boat-other", sailing_date="2026-11-29")])
    assert (first["status"], second["status"], second["activityId"]) == (
        "accepted", "duplicate", first["activityId"])
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 1500


def _without(fields: dict, name: str) -> dict:
    return {k: v for k, v in fields.items() if k != name}


RECYCLING = {"station_id": "S-1", "receipt_no": "R-1", "material": "paper", "weight_g": 2500}
POWER = {"meter_id": "E-1", "period_start": "2026-09-01", "period_end": "2026-10-01",
         "start_reading": 1000, "end_reading": 1150, "household_size": 2}
REFUSALS = [
    ("recycling", dict(RECYCLING, material="wood"), "UNKNOWN_VARIETY"),
    ("recycling", dict(RECYCLING, weight_g=200001), "IMPLAUSIBLE_QUANTITY"),
    ("recycling", _without(RECYCLING, "weight_g"), "INVALID_FIELD"),
    ("recycling", dict(RECYCLING, weight_g="2500"), "INVALID_FIELD"),
    ("appliances", {"recycler_id": "AR", "order_no": "O", "appliance": "sofa", "count": 1}, "UNKNOWN_VARIETY"),
    ("appliances", {"recycler_id": "AR", "order_no": "O", "appliance": "television", "count": 6},
     "IMPLAUSIBLE_QUANTITY"),
    ("e_waste", {"station_id": "S", "receipt_no": "R", "weight_g": 0}, "INVALID_FIELD"),
    ("clothes", {"bin_id": "B", "drop_id": "D", "weight_g": 50001}, "IMPLAUSIBLE_QUANTITY"),
    ("rooftop_pv", {"system_id": "PV", "period_start": "October", "period_end": "2026-11-01",
                    "generated_kwh": 10}, "INVALID_FIELD"),
    ("rooftop_pv", {"system_id": "PV", "period_start": "2026-10-01", "period_end": "2026-11-01",
                    "generated_kwh": 150001}, "IMPLAUSIBLE_QUANTITY"),
    ("ev_charging", {"operator_id": "EV", "session_id": "S", "energy_kwh": 121}, "IMPLAUSIBLE_QUANTITY"),
    ("island_boat", {"ticket_no": "TK", "sailing_date": "tomorrow"}, "INVALID_FIELD"),
    ("clean_plate", {"tray_photo_id": "P"}, "INVALID_FIELD"),
    ("garbage_sorting", {"station_id": "G", "checkin_id": "C", "verified": False}, "NOT_VERIFIED"),
    ("reusable_cup", {"cafe_id": "CF", "receipt_no": "R", "verified": "yes"}, "INVALID_FIELD"),
    ("household_electricity", dict(POWER, period_end="2026-09-05"), "INVALID_PERIOD"),
    ("household_electricity", dict(POWER, end_reading=900), "READING_BACKWARDS"),
    ("household_electricity", dict(POWER, end_reading=1000 + 150 * 30 + 1), "IMPLAUSIBLE_CONSUMPTION"),
    ("household_electricity", dict(POWER, end_reading=1180), "NO_SAVING"),
    ("household_electricity", dict(POWER, household_size=0), "INVALID_FIELD"),
    ("household_electricity", _without(POWER, "meter_id"), "INVALID_FIELD"),
    ("household_water", dict(POWER, meter_id="W", start_reading=0, end_reading=10800), "NO_SAVING"),
    ("household_gas", dict(POWER, meter_id="G", start_reading=0, end_reading=40), "NO_BASELINE"),
]


@pytest.mark.parametrize("kind, fields, reason", REFUSALS,
                         ids=[f"{kind}-{reason}-{i}" for i, (kind, _, reason) in enumerate(REFUSALS)])
async def test_each_refusal_of_each_scene_credits_nothing_and_is_kept(http, player, kind, fields, reason):
    pid, token = player["player"]["id"], player["accessToken"]
    [result] = await post(http, [scene("bad", pid, kind, **fields)])
    assert (result["status"], result["reason"]) == ("rejected", reason), result
    assert result["message"] and "activityId" not in result
    assert await LedgerTransaction.all().count() == 0
    assert await SceneClaim.all().count() == 0
    kept = await PartnerRecord.get(partner_id=CITY, record_id="bad")
    assert (kept.status, kept.reason) == ("rejected", reason)
    [node] = [e["node"] for e in (await http.gql(MY_ACTIVITIES, token=token))["data"]["me"]["activities"]["edges"]]
    assert (node["status"], node["rejectReason"], node["reductionGrams"]) == ("REJECTED", reason, 0)
    # the player reads why, in their language: this reason's own sentence, not a general one
    assert node["rejectReasonText"] == REASON_TEXTS[reason].msgid
    chinese = (await http.post("/graphql", json={"query": MY_ACTIVITIES}, headers={
        "Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})).json()
    [zh] = [e["node"] for e in chinese["data"]["me"]["activities"]["edges"]]
    assert zh["rejectReasonText"] != node["rejectReasonText"]
    assert any("\u4e00" <= c <= "\u9fff" for c in zh["rejectReasonText"]), zh
    assert (await post(http, [scene("bad", pid, kind, **fields)]))[0]["status"] == "duplicate"


@pytest.mark.parametrize("overrides, reason", [
    ({"subject": "nobody-known"}, "UNKNOWN_SUBJECT"),
    ({"occurredAt": None}, "INVALID_FIELD"),
    ({"occurredAt": "2026-11-30T08:00:00"}, "INVALID_FIELD"),
    ({"ago": timedelta(hours=-2)}, "IN_FUTURE"),
    ({"ago": timedelta(days=9)}, "TOO_OLD"),
])
async def test_a_scene_record_s_subject_and_time_are_checked(http, player, overrides, reason):
    ago = overrides.pop("ago", timedelta(hours=1))
    record = scene("when", player["player"]["id"], "recycling", ago=ago, **RECYCLING)
    record.update(overrides)
    [result] = await post(http, [{k: v for k, v in record.items() if v is not None}])
    assert (result["status"], result["reason"]) == ("rejected", reason), result
    assert await LedgerTransaction.all().count() == 0


async def test_a_scene_s_daily_cap(http, player):
    pid = player["player"]["id"]
    # garbage sorting: 20 g a check-in, 40 g a day
    records = [scene(f"ck-{i}", pid, "garbage_sorting", station_id="G", checkin_id=f"C{i}", verified=True)
               for i in range(3)]
    results = await post(http, records)
    assert [(r["status"], r.get("reductionGrams"), r.get("reason")) for r in results] == [
        ("accepted", 20, None), ("accepted", 20, None), ("rejected", None, "DAILY_CAP_REACHED")]
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 40


async def test_a_bank_is_refused_a_metro_trip_and_others_scenes(http, player):
    pid = player["player"]["id"]
    results = await post(http, [trip("b-metro", pid, kind="metro"),
                                scene("b-recycle", pid, "recycling", **RECYCLING),
                                scene("b-statement", pid, "e_statement", bank_id="BK", statement_id="S1")], BANK)
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "SCENE_NOT_ALLOWED"), ("rejected", "SCENE_NOT_ALLOWED"), ("accepted", None)]
    assert results[0]["message"] == "partner bank-sz is not registered for metro records"
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 30
    assert await Activity.filter(status="accepted").count() == 1
    # the metro operator, registered for travel, is refused a bank's scene
    [metro] = await post(http, [scene("m-statement", pid, "e_statement", bank_id="BK", statement_id="S2")],
                         PARTNER_ID)
    assert (metro["status"], metro["reason"]) == ("rejected", "SCENE_NOT_ALLOWED")


async def test_trips_and_scenes_in_one_batch(http, player):
    pid = player["player"]["id"]
    results = await post(http, [scene("mix-r", pid, "recycling", **RECYCLING),
                                trip("mix-t", pid, kind="metro"),
                                trip("mix-t2", pid, kind="bus", meters=10000, minutes=40)],
                         PARTNER_ID)
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "SCENE_NOT_ALLOWED"), ("accepted", None), ("accepted", None)]
    everything = PartnerConfig(id="all", secrets=["all-partner-secret-0123456789abcdefghij"],
                               scenes=["travel", "quantity"])
    assert everything.allows("metro", "travel") and everything.allows("recycling", "quantity")
    assert not everything.allows("garbage_sorting", "event")


def mixed_scene_records(prefix: str, first: str, second: str) -> list[dict]:
    """Trips and scenes of two players in one batch: a meter's bills (one joining the
    history uncredited, one against its own average, an overlap, one running backwards),
    a gas meter's first and second bills, the same bill and the same ticket again under
    other ids, a ticket another partner reported before, a scene's daily cap reached, a
    record repeated, refusals."""
    def power(record_id: str, start: str, end: str, readings: tuple[int, int]) -> dict:
        return bill(record_id, first, start, end, readings, size=1, meter=f"{prefix}-E")

    def gas(record_id: str, start: str, end: str, readings: tuple[int, int]) -> dict:
        return bill(record_id, second, start, end, readings, meter=f"{prefix}-G", kind="household_gas")

    def sorting(i: int) -> dict:
        return scene(f"{prefix}-ck{i}", second, "garbage_sorting", station_id="G", checkin_id=f"{prefix}{i}",
                     verified=True)

    return [
        trip(f"{prefix}-t1", first, start=yesterday_at(7)),
        power(f"{prefix}-aug", "2026-08-01", "2026-09-01", (0, 200)),  # NO_SAVING, joins the history
        sorting(0),
        power(f"{prefix}-sep", "2026-09-01", "2026-10-01", (200, 350)),  # against its own average
        gas(f"{prefix}-g1", "2026-08-01", "2026-09-01", (0, 62)),  # NO_BASELINE
        power(f"{prefix}-mid", "2026-09-15", "2026-10-15", (300, 350)),  # PERIOD_OVERLAP
        gas(f"{prefix}-g2", "2026-09-01", "2026-10-01", (62, 112)),
        sorting(1),
        power(f"{prefix}-sep-again", "2026-09-01", "2026-10-01", (200, 350)),  # the same bill
        scene(f"{prefix}-r1", first, "recycling", station_id="S", receipt_no=f"{prefix}-R", material="paper",
              weight_g=2500),
        power(f"{prefix}-back", "2026-10-01", "2026-11-01", (350, 340)),  # READING_BACKWARDS
        power(f"{prefix}-reset", "2026-10-01", "2026-11-01", (340, 360)),  # below September's 350
        sorting(2),  # over the day's 40 g
        scene(f"{prefix}-boat", second, "island_boat", ticket_no=f"{prefix}-TK", sailing_date="2026-11-30"),
        scene(f"{prefix}-boat2", first, "island_boat", ticket_no=f"{prefix}-TK", sailing_date="2026-11-29"),
        scene(f"{prefix}-boat-b", first, "island_boat", ticket_no=f"{prefix}-TK-B", sailing_date="2026-11-30"),
        trip(f"{prefix}-t2", first, kind="bus", meters=20000, minutes=50, start=yesterday_at(9)),
        scene(f"{prefix}-r1", first, "recycling", station_id="S", receipt_no=f"{prefix}-R", material="paper",
              weight_g=2500),  # the same record again
        scene(f"{prefix}-wood", first, "recycling", station_id="S", receipt_no=f"{prefix}-W", material="wood",
              weight_g=100),  # UNKNOWN_VARIETY
        scene(f"{prefix}-nobody", "nobody-known", "e_statement", bank_id="BK", statement_id=f"{prefix}-S"),
        scene(f"{prefix}-stmt", second, "e_statement", bank_id="BK", statement_id=f"{prefix}-S"),
    ]


async def test_a_mixed_scene_batch_equals_the_same_records_one_by_one(http, caplog):
    together = [(await http.gql.login(f"+86138001390{i:02d}"))["player"]["id"] for i in range(2)]
    alone = [(await http.gql.login(f"+86138001391{i:02d}"))["player"]["id"] for i in range(2)]
    for prefix, players in (("b", together), ("o", alone)):  # another partner reported a ticket first
        boat = scene(f"{prefix}-grid-boat", players[0], "island_boat", ticket_no=f"{prefix}-TK-B",
                     sailing_date="2026-11-30")
        assert (await post(http, [boat]))[0]["status"] == "accepted"
    caplog.set_level(logging.INFO, logger="carbon_planet.ingest")

    batch = await post(http, mixed_scene_records("b", *together), ALL)
    assert FALLBACK not in caplog.text  # one transaction, no retry one by one
    written = await PartnerRecord.filter(partner_id=ALL, record_id__startswith="b-")
    assert len({r.received_at for r in written}) == 1  # all written at once
    single = []
    for record in mixed_scene_records("o", *alone):
        single.extend(await post(http, [record], ALL))

    assert [comparable(o) for o in batch] == [comparable(o) for o in single]
    assert [(o["status"], o.get("reason")) for o in batch] == [
        ("accepted", None), ("rejected", "NO_SAVING"), ("accepted", None), ("accepted", None),
        ("rejected", "NO_BASELINE"), ("rejected", "PERIOD_OVERLAP"), ("accepted", None), ("accepted", None),
        ("duplicate", None), ("accepted", None), ("rejected", "READING_BACKWARDS"),
        ("rejected", "READING_BACKWARDS"), ("rejected", "DAILY_CAP_REACHED"), ("accepted", None),
        ("duplicate", None), ("duplicate", None),
        ("accepted", None), ("duplicate", None), ("rejected", "UNKNOWN_VARIETY"),
        ("rejected", "UNKNOWN_SUBJECT"), ("accepted", None)]
    assert batch[3]["reductionGrams"] == 23073  # 193 kWh, its own average, against 150 used
    assert batch[6]["reductionGrams"] == 21840  # the gas bill before it in the batch is its baseline
    assert batch[8]["activityId"] == batch[3]["activityId"]  # the same bill: the credited one
    assert batch[14]["activityId"] == batch[13]["activityId"]  # the same ticket within the batch
    earlier = await PartnerRecord.get(partner_id=CITY, record_id="b-grid-boat")
    assert batch[15]["activityId"] == str(earlier.activity_id)  # reported by another partner before
    assert batch[17]["activityId"] == batch[9]["activityId"]  # the same record id

    for mine, theirs in zip(together, alone, strict=True):
        assert await balances(mine) == await balances(theirs)
        assert await ledger_types(mine) == await ledger_types(theirs)
        assert await planet_of(mine) == await planet_of(theirs)
        assert Counter((a.kind, a.status) for a in await Activity.filter(player_id=mine)) == Counter(
            (a.kind, a.status) for a in await Activity.filter(player_id=theirs))
    for prefix in ("b", "o"):
        periods = await MeterPeriod.filter(meter_id__startswith=f"{prefix}-").order_by("period_start", "kind")
        assert [(p.meter_id, str(p.period_start)) for p in periods] == [
            (f"{prefix}-E", "2026-08-01"), (f"{prefix}-G", "2026-08-01"),
            (f"{prefix}-E", "2026-09-01"), (f"{prefix}-G", "2026-09-01")]
    assert await SceneClaim.filter(partner_id=ALL).count() == 2 * 7
    assert await PartnerRecord.filter(partner_id=ALL, record_id__startswith="b-").count() == 20
    report = await verify_ledger()
    assert report.ok, report.problems

    # the batch's claims stand for later reports, from any partner
    [again] = await post(http, [dict(mixed_scene_records("b", *together)[3], id="late-sep")], GRID_B)
    assert again == {"id": "late-sep", "status": "duplicate", "activityId": batch[3]["activityId"]}
    resent = await post(http, mixed_scene_records("b", *together), ALL)
    assert [o["status"] for o in resent] == ["duplicate"] * len(resent)


async def test_mixed_batches_reporting_the_same_bills_at_once_credit_each_once(http):
    players = [(await http.gql.login(f"+86138001392{i:02d}"))["player"]["id"] for i in range(4)]
    bills = [bill(f"m-{i}", pid, "2026-10-01", "2026-11-01", (320, 420), meter=f"CM-{i}")
             for i, pid in enumerate(players)]
    trips = [trip(f"m-trip-{i}", pid, start=yesterday_at(8)) for i, pid in enumerate(players)]
    batches = [(ALL, bills + trips), (GRID_B, [dict(b, id=f"grid-{b['id']}") for b in bills[::-1]]),
               (CITY, [dict(b, id=f"city-{b['id']}") for b in bills[1:3]])]
    results = await asyncio.gather(*[post(http, records, partner) for partner, records in batches])
    by_meter: dict[str, list[dict]] = {}
    for (_, records), outcomes in zip(batches, results, strict=True):
        for record, outcome in zip(records, outcomes, strict=True):
            if "meter_id" in record:
                by_meter.setdefault(record["meter_id"], []).append(outcome)
    for outcomes in by_meter.values():
        assert sorted(o["status"] for o in outcomes).count("accepted") == 1
        assert len({o["activityId"] for o in outcomes}) == 1
    assert all(o["status"] == "accepted" for o in results[0][len(bills):])  # the trips
    for pid in players:
        assert (await balances(pid))[Asset.CO2E_GRAMS] == 86 * 5366 // 10 + 600
    assert await MeterPeriod.filter(meter_id__startswith="CM-").count() == 4
    report = await verify_ledger()
    assert report.ok, report.problems


async def recall(http, record_id: str, reason: str, partner: str = CITY) -> httpx.Response:
    raw = json.dumps({"recordId": record_id, "reason": reason}).encode()
    stamp = str(int(time.time()))
    return await http.post("/partner/v1/recalls", content=raw, headers={
        "Content-Type": "application/json", "X-Partner-Id": partner, "X-Timestamp": stamp,
        "X-Signature": sign(SECRETS[partner], stamp, raw)})


async def test_a_recalled_bill_can_be_sent_again_corrected_a_fraudulent_one_cannot(http, player):
    pid = player["player"]["id"]
    # August, a household of 2 over 31 days: the city's 186 kWh; misread as 150 used
    [wrong] = await post(http, [bill("aug", pid, "2026-08-01", "2026-09-01", (0, 150), meter="R-1")])
    assert (wrong["status"], wrong["reductionGrams"]) == ("accepted", 19317)  # 36 × 536.6
    recalled = await recall(http, "aug", "DATA_ERROR")
    assert recalled.status_code == 200 and recalled.json()["status"] == "withdrawn", recalled.text
    assert await MeterPeriod.filter(meter_id="R-1").count() == 0
    assert not await SceneClaim.filter(activity_id=wrong["activityId"]).exists()
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 0
    # read again: 170 kWh used, 16 saved × 536.6 = 8,585.6 g
    [fixed] = await post(http, [bill("aug-2", pid, "2026-08-01", "2026-09-01", (0, 170), meter="R-1")])
    assert (fixed["status"], fixed["reductionGrams"]) == ("accepted", 8585)
    # the corrected bill is the meter's August now, and still counts once across utilities
    [again] = await post(http, [bill("b-aug", pid, "2026-08-01", "2026-09-01", (0, 170), meter="R-1")],
                         GRID_B)
    assert (again["status"], again["activityId"]) == ("duplicate", fixed["activityId"])
    [overlap] = await post(http, [bill("aug-3", pid, "2026-08-15", "2026-09-15", (100, 190), meter="R-1")])
    assert (overlap["status"], overlap["reason"]) == ("rejected", "PERIOD_OVERLAP")
    # a fraudulent bill's event stays claimed: sent again, it is not credited
    [fake] = await post(http, [bill("sep", pid, "2026-09-01", "2026-10-01", (170, 200), meter="R-1")])
    assert fake["status"] == "accepted"
    assert (await recall(http, "sep", "FRAUD")).json()["status"] == "withdrawn"
    [retry] = await post(http, [bill("sep-2", pid, "2026-09-01", "2026-10-01", (170, 210), meter="R-1")])
    assert (retry["status"], retry["activityId"]) == ("duplicate", fake["activityId"])
    assert (await balances(pid))[Asset.CO2E_GRAMS] == 8585
    assert (await verify_ledger()).ok
