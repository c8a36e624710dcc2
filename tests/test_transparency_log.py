"""The transparency log over the ledger, through its public interfaces: a player's proof
over GraphQL checked by the offline verifier, the HTTP endpoints, the witness command,
`ledger verify`; sequencing under concurrent commits and after crashes."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import defaultdict

import httpx
import pytest
from tortoise import Tortoise, connections
from typer.testing import CliRunner

from app.cli import cli
from app.ledger.service import Asset, credit, post
from app.ledger.verify import verify_ledger
from app.transparency import commands, sequencer, store
from app.transparency.keys import log_signer
from transparency import merkle
from transparency.checkpoint import open_checkpoint
from transparency.errors import ProofError
from transparency.note import generate_signer
from transparency.verify import InclusionProof, verify_inclusion_proof

LEDGER_PROOF = """
query LedgerProof($id: ID!) {
  ledgerProof(transactionId: $id) { transactionId leaf leafIndex treeSize inclusionProof checkpoint }
}"""


async def credit_points(player_id: str, amount: int = 10) -> str:
    result = await post("test_credit", f"log-test:{uuid.uuid4()}", credit(player_id, {Asset.CARBON_POINT: amount}))
    return str(result.transaction.id)


async def sequence_and_sign(settings) -> str | None:
    await sequencer.sequence_all(1000)
    published = await sequencer.publish_checkpoint(log_signer(settings))
    return published.note if published else None


def sql(conn, text: str) -> str:
    """`?` placeholders in the connection's dialect."""
    if conn.capabilities.dialect != "postgres":
        return text
    parts = text.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def bundle(proof: dict) -> InclusionProof:
    return InclusionProof(leaf_index=proof["leafIndex"], tree_size=proof["treeSize"],
                          proof=tuple(base64.b64decode(h) for h in proof["inclusionProof"]),
                          leaf=base64.b64decode(proof["leaf"]), checkpoint=proof["checkpoint"])


async def test_a_player_proves_a_transaction_offline_and_an_edited_row_fails_it(gql, settings, tmp_path):
    me = await gql.login("+8613800138001")
    other = await gql.login("+8613800138002")
    mine = await credit_points(me["player"]["id"], 25)
    await credit_points(me["player"]["id"], 5)
    theirs = await credit_points(other["player"]["id"], 7)

    early = await gql(LEDGER_PROOF, {"id": mine}, token=me["accessToken"])
    assert early["data"] is None
    assert early["errors"][0]["extensions"]["code"] == "NOT_AVAILABLE"
    assert early["errors"][0]["extensions"]["retryAfterSeconds"] > 0
    assert "few seconds" in early["errors"][0]["message"]

    assert await sequence_and_sign(settings) is not None
    result = await gql(LEDGER_PROOF, {"id": mine}, token=me["accessToken"])
    proof = result["data"]["ledgerProof"]
    assert proof["transactionId"] == mine and proof["treeSize"] == 3
    key = log_signer(settings).verifier
    verdict = verify_inclusion_proof(bundle(proof), None, key)
    assert verdict.record is not None and verdict.record.transaction_id == mine
    assert {(p.asset, p.amount) for p in verdict.record.postings if p.owner.startswith("player:")} == {
        ("CARBON_POINT", 25)}

    # the same proof through `carbon-planet log verify`, as a player would run it
    (tmp_path / "proof.json").write_text(json.dumps(result))  # the GraphQL answer, saved as it is
    run = CliRunner().invoke(cli, ["log", "verify", "--key", key.key_string, "--proof", str(tmp_path / "proof.json")])
    assert run.exit_code == 0, run.output
    assert "VERIFIED" in run.output and mine in run.output

    refused = await gql(LEDGER_PROOF, {"id": theirs}, token=me["accessToken"])
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert refused["data"] is None
    unknown = await gql(LEDGER_PROOF, {"id": str(uuid.uuid4())}, token=me["accessToken"])
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    malformed = await gql(LEDGER_PROOF, {"id": "not-a-uuid"}, token=me["accessToken"])
    assert malformed["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    anonymous = await gql(LEDGER_PROOF, {"id": mine})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    report = await verify_ledger()
    assert report.ok, report.problems
    assert report.log is not None and report.log.leaves == 3 and report.log.checkpoint_size == 3

    # someone with database access changes the player's line: 25 points become 2,500
    conn = connections.get("default")
    [row] = await conn.execute_query_dict(
        sql(conn, "SELECT l.id FROM ledger_line l JOIN ledger_account a ON a.id = l.account_id "
                  "WHERE l.transaction_id = ? AND a.owner = ?"), [mine, f"player:{me['player']['id']}"])
    await conn.execute_query(sql(conn, "UPDATE ledger_line SET amount = 2500 WHERE id = ?"), [row["id"]])

    tampered = (await gql(LEDGER_PROOF, {"id": mine}, token=me["accessToken"]))["data"]["ledgerProof"]
    assert tampered["leaf"] != proof["leaf"]
    with pytest.raises(ProofError):
        verify_inclusion_proof(bundle(tampered), None, key)
    report = await verify_ledger()
    problems = "\n".join(report.problems)
    assert f"ledger_line {row['id']}" in problems  # the chain names the row
    assert f"log leaf {proof['leafIndex']}: ledger_transaction {mine}" in problems  # the log, its transaction
    assert "root" in problems  # and the checkpoint's root no longer follows from the ledger


async def test_http_checkpoint_and_proofs_between_every_pair_of_checkpoints(app, client, settings):
    missing = await client.get("/log/checkpoint")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    key = log_signer(settings).verifier
    notes = []
    for round_size in (1, 2, 3, 5, 8):
        for _ in range(round_size):
            await credit_points(str(uuid.uuid4()))
        note = await sequence_and_sign(settings)
        assert note is not None
        served = await client.get("/log/checkpoint")
        assert served.status_code == 200 and served.text == note
        assert served.headers["content-type"].startswith("text/plain")
        notes.append(open_checkpoint(note, key).checkpoint)
    assert [c.size for c in notes] == [1, 3, 6, 11, 19]
    assert await sequencer.publish_checkpoint(log_signer(settings)) is None  # the log did not grow

    for old in notes:
        for new in notes:
            if old.size > new.size:
                continue
            answer = await client.get("/log/proof/consistency", params={"from": old.size, "to": new.size})
            assert answer.status_code == 200, answer.text
            proof = [base64.b64decode(h) for h in answer.json()["proof"]]
            merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)

    latest = notes[-1]
    leaves = (await client.get("/log/leaves", params={"start": 0, "end": latest.size})).json()["leaves"]
    assert [leaf["index"] for leaf in leaves] == list(range(latest.size))
    for leaf in leaves:
        data = base64.b64decode(leaf["leaf"])
        assert merkle.leaf_hash(data) == base64.b64decode(leaf["leafHash"])
        answer = await client.get("/log/proof/inclusion", params={"index": leaf["index"], "size": latest.size})
        proof = [base64.b64decode(h) for h in answer.json()["proof"]]
        merkle.verify_inclusion(merkle.leaf_hash(data), leaf["index"], latest.size, proof, latest.root)


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("/log/proof/consistency", {}, 400, "from"),
    ("/log/proof/consistency", {"from": "-1", "to": "3"}, 400, "from"),
    ("/log/proof/consistency", {"from": "1", "to": "x"}, 400, "to"),
    ("/log/proof/consistency", {"from": "1", "to": "1" * 40}, 400, "to"),
    ("/log/proof/consistency", {"from": "１", "to": "3"}, 400, "from"),  # a full-width digit
    ("/log/proof/consistency", {"from": "3", "to": "1"}, 400, "from"),
    ("/log/proof/consistency", {"from": "1", "to": "3"}, 404, "from"),  # no checkpoint of size 1
    ("/log/proof/consistency", {"from": "3", "to": "4"}, 404, "to"),
    ("/log/proof/inclusion", {"index": "3", "size": "3"}, 400, "index"),
    ("/log/proof/inclusion", {"index": "0", "size": "99"}, 400, "size"),
    ("/log/proof/inclusion", {"index": "0"}, 400, "size"),
    ("/log/proof/inclusion", {"index": "9223372036854775807", "size": "9223372036854775808"}, 400, "size"),
    ("/log/leaves", {"start": "0", "end": "5000"}, 400, "end"),
    ("/log/leaves", {"start": "4", "end": "4"}, 400, "end"),
    ("/log/leaves", {"start": "a", "end": "4"}, 400, "start"),
])
async def test_http_bad_input_is_a_typed_refusal(app, client, settings, path, params, status, field):
    for _ in range(3):
        await credit_points(str(uuid.uuid4()))
    await sequence_and_sign(settings)
    answer = await client.get(path, params=params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["field"] == field and body["code"] in {"INVALID_INPUT", "NOT_FOUND"} and body["error"]


async def test_500_concurrent_credits_are_leaves_once_each_in_commit_order(make_app, settings):
    # the server's own sequencer runs while the credits commit, as in production
    await make_app(transparency_sequence_seconds=0.05)
    players = [str(uuid.uuid4()) for _ in range(20)]
    posted = await asyncio.gather(*(credit_points(players[i % 20], 1 + i % 7) for i in range(500)))
    await sequencer.sequence_all(1000)
    conn = connections.get("default")
    leaves = await store.leaves(conn, 0, 10_000)
    assert [leaf.index for leaf in leaves] == list(range(500))  # no gaps
    assert sorted(leaf.transaction_id for leaf in leaves) == sorted(posted)  # each once
    assert (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM log_pending"))[0]["n"] == 0
    leaf_of = {leaf.transaction_id: leaf.index for leaf in leaves}
    lines = await conn.execute_query_dict("SELECT account_id, seq, transaction_id FROM ledger_line")
    per_account: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for line in lines:
        per_account[line["account_id"]].append((int(line["seq"]), leaf_of[str(line["transaction_id"])]))
    assert len(per_account) > 20  # the players' accounts and the issuance shards
    for account, entries in per_account.items():
        by_seq = [index for _, index in sorted(entries)]
        assert by_seq == sorted(by_seq), f"account {account}: leaves out of its lines' order"
    # the tree the sequencer stored is the tree of these leaves
    root = merkle.root_from_nodes(500, await store.hashes(conn, merkle.root_nodes(500)))
    assert root == merkle.root_from_leaf_hashes([leaf.leaf_hash for leaf in leaves])


async def test_a_crash_between_commit_and_sequencing_loses_nothing(make_app, settings, monkeypatch):
    await make_app()
    posted = [await credit_points(str(uuid.uuid4())) for _ in range(30)]
    conn = connections.get("default")
    assert (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM log_pending"))[0]["n"] == 30

    # a sequencer that dies after writing its leaves, before the end of its transaction
    real_append = store.append

    async def append_then_die(*args, **kwargs):
        await real_append(*args, **kwargs)
        raise OSError("the sequencer's process was killed")

    monkeypatch.setattr(store, "append", append_then_die)
    with pytest.raises(OSError):
        await sequencer.sequence_batch(10)
    monkeypatch.setattr(store, "append", real_append)
    assert await store.tree_size(conn) == 0  # no partial leaves
    assert (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM log_node"))[0]["n"] == 0
    assert (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM log_pending"))[0]["n"] == 30

    # the server restarts: its connections die with it, and its new sequencer finds the
    # queue as the ledger committed it
    await Tortoise.close_connections()
    await make_app(transparency_sequence_seconds=0.05)
    conn = connections.get("default")
    for _ in range(200):
        if await store.tree_size(conn) == 30:
            break
        await asyncio.sleep(0.05)
    leaves = await store.leaves(conn, 0, 100)
    assert [leaf.transaction_id for leaf in leaves] == posted  # one committer: its order
    report = await verify_ledger()
    assert report.ok, report.problems


async def test_the_log_off_queues_nothing(make_app, settings):
    await make_app(transparency_log=False)
    await credit_points(str(uuid.uuid4()))
    conn = connections.get("default")
    assert (await conn.execute_query_dict("SELECT COUNT(*) AS n FROM log_pending"))[0]["n"] == 0
    report = await verify_ledger()
    assert report.ok and report.log is not None and report.log.unsequenced == 1


async def rewrite_history(settings, keep_size: int, drop: int) -> None:
    """What a dishonest operator would do: drop leaf `drop`, rebuild the tree from the other
    transactions, sign checkpoints again with the log's key (one of the old size too)."""
    conn = connections.get("default")
    await sequencer.sequence_all(1000)
    kept = [leaf.transaction_id for leaf in await store.leaves(conn, 0, 10_000) if leaf.index != drop]
    for table in ("log_leaf", "log_node", "log_checkpoint", "log_pending"):
        await conn.execute_query(f"DELETE FROM {table}")
    await store.insert_rows(conn, "log_pending", {"transaction_id": "uuid"}, [(t,) for t in kept])
    await sequencer.sequence_batch(keep_size)
    await sequencer.publish_checkpoint(log_signer(settings))
    await sequence_and_sign(settings)


async def test_the_witness_cosigns_a_growing_log_and_alarms_on_rewritten_history(
        app, client, settings, tmp_path, monkeypatch):
    loop = asyncio.get_running_loop()

    def bridge(request: httpx.Request) -> httpx.Response:
        """The witness's (synchronous) requests, answered by the app on the test's loop."""
        answer = asyncio.run_coroutine_threadsafe(
            client.get(request.url.path, params=request.url.params), loop).result()
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    monkeypatch.setattr(commands, "http_client", lambda url: httpx.Client(
        base_url=url, transport=httpx.MockTransport(bridge)))
    log_key = log_signer(settings).verifier.key_string
    witness_key = generate_signer("witness.example").key_string
    state = tmp_path / "witness.json"

    async def witness() -> tuple[int, str]:
        args = ["log", "witness", "--url", "http://log.example", "--key", log_key, "--state", str(state),
                "--witness-key", witness_key]
        run = await asyncio.to_thread(CliRunner().invoke, cli, args)
        return run.exit_code, run.output

    for _ in range(5):
        await credit_points(str(uuid.uuid4()))
    await sequence_and_sign(settings)
    code, output = await witness()
    assert code == 0 and "first checkpoint" in output, output
    assert "witness.example" in output  # the cosigned note carries the witness's signature
    for _ in range(4):
        await credit_points(str(uuid.uuid4()))
    await sequence_and_sign(settings)
    code, output = await witness()
    assert code == 0 and "consistent successor: size 5 → 9" in output, output
    kept = state.read_text()

    await credit_points(str(uuid.uuid4()))
    await rewrite_history(settings, keep_size=9, drop=2)
    code, output = await witness()
    assert code == 2, output
    assert "SPLIT VIEW" in output
    assert state.read_text() == kept  # the alarm does not move the witness
