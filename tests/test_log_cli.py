"""`carbon-planet log verify` and `log keygen`, offline, on files a player or regulator holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.transparency_support import LOG_KEY, WITNESS_KEY, MemoryLog
from transparency.note import Signer, add_signatures, parse_signer, parse_verifier

VKEY = LOG_KEY.verifier.key_string


def _run(*args: str):
    return CliRunner().invoke(cli, ["log", *args])


def _write(folder: Path, name: str, content: str | dict) -> str:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


@pytest.fixture
def log() -> MemoryLog:
    log = MemoryLog()
    log.add_records(21)
    return log


def test_keygen_prints_a_matching_signer_and_verifier_key():
    run = _run("keygen", "--name", "city.example/log")
    assert run.exit_code == 0, run.output
    lines = dict(line.split(":", 1) for line in run.output.splitlines())
    signer = parse_signer(lines["signer key (secret)"].strip())
    verifier = parse_verifier(lines["verifier key (publish)"].strip())
    assert signer.verifier == verifier and verifier.name == "city.example/log"
    assert _run("keygen", "--name", "two words").exit_code == 1


def test_a_leaf_in_the_log_verifies(tmp_path, log):
    checkpoint = _write(tmp_path, "checkpoint.txt", log.checkpoint())
    proof = _write(tmp_path, "proof.json", log.inclusion(13).to_json())
    run = _run("verify", "--key", VKEY, "--checkpoint", checkpoint, "--proof", proof)
    assert run.exit_code == 0, run.output
    assert "VERIFIED: leaf 13 is in the log carbon-planet.test/log of 21 leaves" in run.output
    assert "transaction 00000000-0000-4000-8000-000000000013 (credit)" in run.output
    assert "player:6 CARBON_POINT +14" in run.output


def test_a_proof_carrying_its_checkpoint_needs_no_other_file(tmp_path, log):
    proof = _write(tmp_path, "proof.json", log.inclusion(0, with_checkpoint=True).to_json())
    run = _run("verify", "--key", VKEY, "--proof", proof)
    assert run.exit_code == 0, run.output
    cosigned = add_signatures(log.checkpoint(), WITNESS_KEY)  # a cosigned checkpoint is the same tree
    run = _run("verify", "--key", VKEY, "--proof", proof, "--checkpoint", _write(tmp_path, "c.txt", cosigned))
    assert run.exit_code == 0, run.output


def test_an_edited_leaf_is_refused(tmp_path, log):
    checkpoint = _write(tmp_path, "checkpoint.txt", log.checkpoint())
    bundle = log.inclusion(4).to_json()
    bundle.pop("leaf_hash")
    bundle["leaf"] = bundle["leaf"][:-8] + "AAAAAAA="  # the end of the transaction's bytes changed
    run = _run("verify", "--key", VKEY, "--checkpoint", checkpoint, "--proof", _write(tmp_path, "p.json", bundle))
    assert run.exit_code == 1
    assert "REFUSED: the inclusion proof for leaf 4 leads to a different root" in run.output


def test_a_proof_against_another_checkpoint_or_key_is_refused(tmp_path, log):
    proof = _write(tmp_path, "proof.json", log.inclusion(3).to_json())
    older = _write(tmp_path, "older.txt", log.checkpoint())
    log.add_records(2, first=21)
    newer = _write(tmp_path, "newer.txt", log.checkpoint())
    run = _run("verify", "--key", VKEY, "--checkpoint", newer, "--proof", proof)
    assert run.exit_code == 1 and "the checkpoint signs 23" in run.output
    other = parse_signer(_run("keygen", "--name", LOG_KEY.name).output.splitlines()[0].split(": ", 1)[1].strip())
    run = _run("verify", "--key", other.verifier.key_string, "--checkpoint", older, "--proof", proof)
    assert run.exit_code == 1 and "no valid signature by a trusted key" in run.output


def test_consistency_between_two_checkpoints(tmp_path, log):
    old = _write(tmp_path, "old.txt", log.checkpoint())
    log.add_records(9, first=21)
    new = _write(tmp_path, "new.txt", log.checkpoint())
    proof = _write(tmp_path, "consistency.json", log.consistency(21).to_json())
    run = _run("verify", "--key", VKEY, "--checkpoint", new, "--old-checkpoint", old, "--consistency", proof)
    assert run.exit_code == 0, run.output
    assert "of 30 leaves extends its checkpoint of 21 leaves" in run.output


def test_a_rewritten_history_fails_consistency(tmp_path, log):
    old = _write(tmp_path, "old.txt", log.checkpoint())
    rewritten = MemoryLog()
    rewritten.add(*log.leaves[:20])  # the last leaf dropped and the log grown again, re-signed
    rewritten.add_records(5, first=40)
    new = _write(tmp_path, "new.txt", rewritten.checkpoint())
    proof = _write(tmp_path, "consistency.json", rewritten.consistency(21).to_json())
    run = _run("verify", "--key", VKEY, "--checkpoint", new, "--old-checkpoint", old, "--consistency", proof)
    assert run.exit_code == 1
    assert "REFUSED: the consistency proof does not lead to the first root" in run.output


@pytest.mark.parametrize("case", ["nothing", "both", "no-old", "missing-file", "not-json", "bad-key", "bad-fields"])
def test_bad_invocations_are_refused_with_a_reason(tmp_path, log, case):
    checkpoint = _write(tmp_path, "checkpoint.txt", log.checkpoint())
    proof = _write(tmp_path, "proof.json", log.inclusion(1).to_json())
    args = {
        "nothing": ["--key", VKEY, "--checkpoint", checkpoint],
        "both": ["--key", VKEY, "--checkpoint", checkpoint, "--proof", proof, "--consistency", proof],
        "no-old": ["--key", VKEY, "--checkpoint", checkpoint, "--consistency", proof],
        "missing-file": ["--key", VKEY, "--checkpoint", str(tmp_path / "none.txt"), "--proof", proof],
        "not-json": ["--key", VKEY, "--checkpoint", checkpoint, "--proof", checkpoint],
        "bad-key": ["--key", VKEY.replace("+", "-", 1), "--checkpoint", checkpoint, "--proof", proof],
        "bad-fields": ["--key", VKEY, "--checkpoint", checkpoint,
                       "--proof", _write(tmp_path, "p.json", {"leaf_index": "1", "tree_size": 21, "proof": []})],
    }[case]
    run = _run("verify", *args)
    assert run.exit_code == 1
    assert "REFUSED: " in run.output and "Traceback" not in run.output


def _ledger_proof(log: MemoryLog, index: int, transaction_id: str) -> dict:
    """What GraphQL's ledgerProof answers, field for field."""
    bundle = log.inclusion(index, with_checkpoint=True).to_json()
    return {"transactionId": transaction_id, "leaf": bundle["leaf"], "leafIndex": index,
            "treeSize": bundle["tree_size"], "inclusionProof": bundle["proof"], "checkpoint": bundle["checkpoint"]}


def test_the_graphql_answer_saved_as_it_is_verifies(tmp_path, log):
    transaction_id = "00000000-0000-4000-8000-000000000007"
    answer = {"data": {"ledgerProof": {"__typename": "LedgerProof", **_ledger_proof(log, 7, transaction_id)}}}
    run = _run("verify", "--key", VKEY, "--proof", _write(tmp_path, "answer.json", answer))
    assert run.exit_code == 0, run.output
    assert f"transaction {transaction_id} (credit)" in run.output
    alone = _write(tmp_path, "proof.json", answer["data"]["ledgerProof"])
    assert _run("verify", "--key", VKEY, "--proof", alone).exit_code == 0


def test_a_leaf_of_another_transaction_than_claimed_is_refused(tmp_path, log):
    answer = _ledger_proof(log, 7, "00000000-0000-4000-8000-000000000008")
    run = _run("verify", "--key", VKEY, "--proof", _write(tmp_path, "answer.json", answer))
    assert run.exit_code == 1
    assert "the leaf is not the transaction 00000000-0000-4000-8000-000000000008" in run.output
    answer = {**_ledger_proof(log, 7, "x"), "leaf_index": 7}  # camelCase and snake_case mixed
    run = _run("verify", "--key", VKEY, "--proof", _write(tmp_path, "mixed.json", answer))
    assert run.exit_code == 1 and "unknown fields: leaf_index" in run.output


def test_across_a_key_rotation_both_keys_are_given(tmp_path, log):
    """The log changes keys (same origin): old checkpoints stay checkable with the old key."""
    old = _write(tmp_path, "old.txt", log.checkpoint())
    log.signer = Signer(LOG_KEY.name, bytes(range(100, 132)))  # the new key, named by the same origin
    log.add_records(4, first=21)
    new = _write(tmp_path, "new.txt", log.checkpoint())
    proof = _write(tmp_path, "consistency.json", log.consistency(21).to_json())
    new_key = log.signer.verifier.key_string
    args = ["--checkpoint", new, "--old-checkpoint", old, "--consistency", proof]
    run = _run("verify", "--key", VKEY, "--key", new_key, *args)
    assert run.exit_code == 0, run.output
    run = _run("verify", "--key", new_key, *args)
    assert run.exit_code == 1 and "no valid signature by a trusted key" in run.output
    other_name = Signer("other.log", bytes(range(100, 132))).verifier.key_string
    run = _run("verify", "--key", VKEY, "--key", other_name, *args)
    assert run.exit_code == 1 and "must all be named by the log's origin" in run.output
