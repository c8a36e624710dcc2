"""Signed notes, checkpoints and the leaf encoding of the transparency package."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.transparency_support import LOG_KEY, ORIGIN, WITNESS_KEY, record
from transparency.checkpoint import Checkpoint, open_checkpoint, parse, sign_checkpoint
from transparency.errors import CheckpointError, LeafError, NoteError
from transparency.leaf import LeafPosting, LeafRecord, decode, encode, idempotency_key_hash, record_hash
from transparency.merkle import leaf_hash
from transparency.note import (
    Signer,
    add_signatures,
    generate_signer,
    open_note,
    parse_signer,
    parse_verifier,
    sign,
    split,
)

# The example of Go's golang.org/x/mod/sumdb/note documentation: keys, text and signed note.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + ("\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
                     "qfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_gos_published_note_and_keys():
    signer, verifier = parse_signer(GO_SIGNER), parse_verifier(GO_VERIFIER)
    assert signer.verifier == verifier and signer.key_id == verifier.key_id == 0xC74F20A3
    assert (signer.key_string, verifier.key_string) == (GO_SIGNER, GO_VERIFIER)
    opened = open_note(GO_NOTE, [verifier])
    assert opened.text == GO_TEXT and [s.name for s in opened.signatures] == ["PeterNeumann"]
    assert sign(GO_TEXT, signer) == GO_NOTE  # Ed25519 is deterministic: byte for byte


def test_key_id_is_sha256_of_name_newline_algorithm_and_key():
    verifier = LOG_KEY.verifier
    digest = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + verifier.public_key).digest()
    assert verifier.key_id == int.from_bytes(digest[:4], "big")
    assert verifier.key_string.startswith(f"{ORIGIN}+{digest[:4].hex()}+")


def test_a_new_key_round_trips_and_signs():
    signer = generate_signer("example.org/log")
    assert parse_signer(signer.key_string) == signer
    assert parse_verifier(signer.verifier.key_string) == signer.verifier
    note = sign("hello\n", signer)
    assert note.startswith("hello\n\n— example.org/log ")
    assert open_note(note.encode(), [signer.verifier]).text == "hello\n"


def test_a_tampered_text_or_signature_is_refused():
    note = sign("size 5\n", LOG_KEY)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("size 5", "size 6"), [LOG_KEY.verifier])
    text, [signature] = split(note)
    raw = bytearray(signature.key_id.to_bytes(4, "big") + signature.signature)
    raw[10] ^= 1
    forged = text + "\n— " + signature.name + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [LOG_KEY.verifier])


def test_a_wrong_key_finds_no_trusted_signature():
    other = Signer(ORIGIN, bytes(32))  # same name, another key: another key id
    with pytest.raises(NoteError, match="no valid signature by a trusted key"):
        open_note(sign("x\n", LOG_KEY), [other.verifier])


def test_unknown_keys_are_ignored_and_cosignatures_added():
    note = sign("tree\n", LOG_KEY)
    cosigned = add_signatures(note, WITNESS_KEY)
    assert cosigned.startswith(note) and cosigned.count("\n— ") == 2
    assert add_signatures(cosigned, WITNESS_KEY) == cosigned  # one cosignature per key
    only_log = open_note(cosigned, [LOG_KEY.verifier])
    assert [s.name for s in only_log.signatures] == [ORIGIN]
    assert [s.name for s in only_log.unverified] == [WITNESS_KEY.name]
    both = open_note(cosigned, [LOG_KEY.verifier, WITNESS_KEY.verifier])
    assert both.signed_by(WITNESS_KEY.verifier) and both.signed_by(LOG_KEY.verifier)
    with pytest.raises(NoteError):
        open_note(cosigned, [])


@pytest.mark.parametrize("message", [
    "no blank line\n— a AAAAAAAA\n",
    "text\n\n— name AAAAAAAAAA==",  # no final newline
    "text\n\n- name AAAAAAAAAA==\n",  # a hyphen, not the em dash
    "text\n\n— name not*base64\n",
    "text\n\n— name AAAA\n",  # shorter than a key id and a byte
    "text\n\n— na+me AAAAAAAAAA==\n",
    "text\n\n—  AAAAAAAAAA==\n",
    "te\x01xt\n\n— name AAAAAAAAAA==\n",
    "text\n\n",
    "text\n\n— name AAAAAAAAAA==\n" * 2 + "\n",
])
def test_malformed_notes_are_refused(message):
    with pytest.raises(NoteError):
        open_note(message, [LOG_KEY.verifier])


def test_a_note_with_too_many_signatures_is_refused():
    line = "— other " + base64.b64encode(bytes(68)).decode() + "\n"
    with pytest.raises(NoteError, match="more than 100"):
        open_note("text\n\n" + line * 101, [LOG_KEY.verifier])


def test_non_utf8_is_refused():
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff\n\n\xe2\x80\x94 a AAAAAAAAAA==\n", [LOG_KEY.verifier])


@pytest.mark.parametrize("key", [
    GO_VERIFIER.replace("c74f20a3", "c74f20a4"),  # the id does not match
    GO_VERIFIER.replace("c74f20a3", "C74F20A3"),
    GO_VERIFIER.replace("+ARpc", "+AhpC"),  # another algorithm byte
    "PeterNeumann+c74f20a3",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    GO_SIGNER,
])
def test_bad_verifier_keys_are_refused(key):
    with pytest.raises(NoteError):
        parse_verifier(key)


def test_bad_signer_keys_are_refused():
    with pytest.raises(NoteError):
        parse_signer(GO_VERIFIER)
    with pytest.raises(NoteError):
        parse_signer(GO_SIGNER.replace("c74f20a3", "00000000"))
    with pytest.raises(NoteError):
        generate_signer("two words")


ROOT = hashlib.sha256(b"root").digest()
URLSAFE = base64.urlsafe_b64encode(bytes([0xFF] * 32)).decode()


def test_checkpoint_body_round_trip():
    checkpoint = Checkpoint(ORIGIN, 12, ROOT, ("extension one",))
    body = checkpoint.body()
    assert body == f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\nextension one\n"
    assert parse(body) == checkpoint
    opened = open_checkpoint(sign_checkpoint(checkpoint, LOG_KEY), LOG_KEY.verifier)
    assert opened.checkpoint == checkpoint


@pytest.mark.parametrize("body", [
    f"{ORIGIN}\n012\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n+12\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n1 2\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n١٢\n{base64.b64encode(ROOT).decode()}\n",  # digits, but not ASCII
    f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\n",
    f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
    f"{ORIGIN}\n12\n{URLSAFE}\n",  # the URL-safe alphabet
    f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}",
    f"{ORIGIN}\n12\n",
    f"\n12\n{base64.b64encode(ROOT).decode()}\n",
    f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\n\n",  # an empty extension line
])
def test_malformed_checkpoints_are_refused(body):
    with pytest.raises(CheckpointError):
        parse(body)


def test_a_checkpoint_must_be_signed_by_its_origins_key():
    checkpoint = Checkpoint("another.log", 1, ROOT)
    with pytest.raises(CheckpointError):
        sign_checkpoint(checkpoint, LOG_KEY)
    note = sign(checkpoint.body(), LOG_KEY)  # a key of one log signing another's checkpoint
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, LOG_KEY.verifier)
    with pytest.raises(NoteError):
        open_checkpoint(sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), LOG_KEY), WITNESS_KEY.verifier)


# The documented encoding of one transaction, byte for byte.
EXAMPLE = (
    '{"idempotency_key_hash":"' + hashlib.sha256(b"partner-a:0").hexdigest() + '",'
    '"postings":[{"amount":1,"asset":"CARBON_POINT","owner":"player:0"},'
    '{"amount":-1,"asset":"CARBON_POINT","owner":"system:issuance:03"}],'
    '"time":"2026-05-01T08:30:00.000000Z","transaction_id":"00000000-0000-4000-8000-000000000000",'
    '"type":"credit","v":1}'
).encode()


def test_the_leaf_encoding_is_the_documented_one():
    assert encode(record(0)) == EXAMPLE
    assert decode(EXAMPLE) == record(0)
    assert record_hash(record(0)) == leaf_hash(EXAMPLE)
    assert idempotency_key_hash("partner-a:0") == hashlib.sha256(b"partner-a:0").hexdigest()


def test_postings_are_sorted_and_times_normalised_to_utc():
    china = timezone(timedelta(hours=8))
    a = LeafRecord.of("t1", "transfer", [("b", "X", 2), ("a", "X", -2)], "k", datetime(2026, 1, 1, 8, tzinfo=china))
    b = LeafRecord.of("t1", "transfer", [LeafPosting("a", "X", -2), LeafPosting("b", "X", 2)], "k",
                      datetime(2026, 1, 1, 0, tzinfo=UTC))
    assert encode(a) == encode(b)
    assert json.loads(encode(a))["time"] == "2026-01-01T00:00:00.000000Z"


def test_non_ascii_is_kept_as_utf8():
    leaf = encode(LeafRecord.of("t", "兑换", [("player:1", "CARBON_POINT", -5)], "k", datetime(2026, 1, 1, tzinfo=UTC)))
    assert "兑换".encode() in leaf
    assert decode(leaf).type == "兑换"


def _variant(**changes) -> bytes:
    data = json.loads(EXAMPLE)
    data.update(changes)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("leaf", [
    EXAMPLE.replace(b",", b", "),  # white space
    json.dumps(json.loads(EXAMPLE), separators=(",", ":")).encode().replace(b'{"idem', b'{"v":1,"idem', 1),
    _variant(postings=list(reversed(json.loads(EXAMPLE)["postings"]))),  # unsorted postings
    _variant(v=2),
    _variant(v=True),
    _variant(time="2026-05-01T08:30:00Z"),
    _variant(time="2026-05-01T08:30:00.000000+00:00"),
    _variant(time="2026-02-30T08:30:00.000000Z"),
    _variant(idempotency_key_hash="partner-a:0"),
    _variant(type=""),
    _variant(postings=[]),
    _variant(postings=[{"amount": 1.0, "asset": "CARBON_POINT", "owner": "player:0"}]),
    _variant(postings=[{"amount": True, "asset": "CARBON_POINT", "owner": "player:0"}]),
    _variant(postings=[{"amount": 1, "asset": "CARBON_POINT", "owner": "player:0", "note": "x"}]),
    _variant(extra="x"),
    EXAMPLE.replace(b'"type":"credit"', b'"type":"\\u0063redit"'),  # an escape where none is needed
    b"\xff",
    b"[]",
])
def test_non_canonical_leaves_are_refused(leaf):
    with pytest.raises(LeafError):
        decode(leaf)


def test_a_naive_time_is_refused():
    with pytest.raises(LeafError):
        LeafRecord.of("t", "credit", [("a", "X", 1)], "k", datetime(2026, 1, 1))
