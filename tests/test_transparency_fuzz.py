"""Whatever a verifier is handed, it answers with a typed refusal (TransparencyError), never a crash."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.transparency_support import LOG_KEY, MemoryLog
from transparency.checkpoint import open_checkpoint, parse
from transparency.errors import TransparencyError
from transparency.leaf import decode, encode
from transparency.note import open_note, parse_signer, parse_verifier
from transparency.verify import ConsistencyProof, InclusionProof, verify_inclusion_proof
from transparency.witness import WitnessState

LOG = MemoryLog()
LOG.add_records(5)
NOTE = LOG.checkpoint()
LEAF = LOG.leaves[0]
BUNDLE = LOG.inclusion(2, with_checkpoint=True).to_json()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)


def _refused_or_fine(call, *args) -> None:
    try:
        call(*args)
    except TransparencyError as exc:
        assert exc.reason


def _mutate(text: str, position: int, insert: str, cut: int) -> str:
    position %= len(text) + 1
    return text[:position] + insert + text[position + cut:]


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), insert=st.text(max_size=8), cut=st.integers(min_value=0, max_value=8))
def test_mutated_notes_and_checkpoints(position, insert, cut):
    mutated = _mutate(NOTE, position, insert, cut)
    _refused_or_fine(open_note, mutated, [LOG_KEY.verifier])
    _refused_or_fine(open_checkpoint, mutated, LOG_KEY.verifier)
    _refused_or_fine(parse, mutated.split("\n\n")[0] + "\n")
    _refused_or_fine(open_note, mutated.encode("utf-8", "surrogatepass"), [LOG_KEY.verifier])


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes(data):
    _refused_or_fine(open_note, data, [LOG_KEY.verifier])
    _refused_or_fine(decode, data)


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), insert=st.text(max_size=6), cut=st.integers(min_value=0, max_value=6))
def test_mutated_leaves_and_keys(position, insert, cut):
    leaf = _mutate(LEAF.decode(), position, insert, cut).encode("utf-8", "surrogatepass")
    try:
        record = decode(leaf)
    except TransparencyError:
        pass
    else:
        assert encode(record) == leaf  # accepted only when canonical
    _refused_or_fine(parse_verifier, _mutate(LOG_KEY.verifier.key_string, position, insert, cut))
    _refused_or_fine(parse_signer, _mutate(LOG_KEY.key_string, position, insert, cut))


@settings(max_examples=150, deadline=None)
@given(value=json_values, key=st.sampled_from(sorted(BUNDLE)))
def test_proof_files_with_any_json(value, key):
    _refused_or_fine(lambda: verify_inclusion_proof(InclusionProof.from_json({**BUNDLE, key: value}), None,
                                                    LOG_KEY.verifier))
    _refused_or_fine(InclusionProof.from_json, value)
    _refused_or_fine(ConsistencyProof.from_json, value)
    _refused_or_fine(ConsistencyProof.from_json, {"from": value, "to": 3, "proof": []})
    _refused_or_fine(WitnessState.from_json, json.dumps(value))
    _refused_or_fine(WitnessState.from_json, json.dumps({"v": 1, "origin": "o", "size": 1, "root": value,
                                                         "checkpoint": "c"}))
