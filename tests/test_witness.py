"""The witness: cosigns a consistent successor only; refuses rollbacks; alarms on a split view."""

from __future__ import annotations

import json

import pytest

from tests.transparency_support import LOG_KEY, WITNESS_KEY, MemoryLog
from transparency.checkpoint import open_checkpoint
from transparency.note import Signer, open_note, sign
from transparency.witness import Outcome, WitnessState, WitnessStateError, observe


def _observe(state, log: MemoryLog, old_size: int):
    return observe(state, log.checkpoint(), log.consistency(old_size).proof, LOG_KEY.verifier, WITNESS_KEY)


def _state_at(log: MemoryLog) -> WitnessState:
    result = observe(None, log.checkpoint(), (), LOG_KEY.verifier, WITNESS_KEY)
    assert result.outcome == Outcome.COSIGNED and result.state is not None
    return WitnessState.from_json(result.state.to_json())  # as stored and read back by the caller


def test_first_checkpoint_trusted_then_consistent_successors_cosigned():
    log = MemoryLog()
    log.add_records(10)
    first = observe(None, log.checkpoint(), (), LOG_KEY.verifier, WITNESS_KEY)
    assert first.outcome == Outcome.COSIGNED and "first" in first.reason
    state = first.state
    assert state is not None
    for grow in (1, 5, 17):
        log.add_records(grow, first=log.size)
        result = _observe(state, log, state.size)
        assert result.outcome == Outcome.COSIGNED, result.reason
        assert result.state is not None and result.state.size == log.size
        assert result.cosigned is not None
        opened = open_checkpoint(result.cosigned, LOG_KEY.verifier, [WITNESS_KEY.verifier])
        assert opened.note.signed_by(WITNESS_KEY.verifier) and opened.checkpoint.size == log.size
        state = result.state
    again = _observe(state, log, state.size)  # the same tree shown again
    assert again.outcome == Outcome.COSIGNED and again.state == state


def test_a_rollback_is_refused_and_the_state_kept():
    log = MemoryLog()
    log.add_records(5)
    old = log.checkpoint()
    log.add_records(3, first=5)
    state = _state_at(log)
    result = observe(state, old, (), LOG_KEY.verifier, WITNESS_KEY)
    assert result.outcome == Outcome.REFUSED and "rollback" in result.reason
    assert result.state == state and result.cosigned is None


def test_two_roots_for_one_size_is_a_split_view():
    log = MemoryLog()
    log.add_records(6)
    state = _state_at(log)
    fork = MemoryLog()
    fork.add_records(5)
    fork.add_records(1, first=99)  # the same size, another last leaf, signed by the same key
    result = _observe(state, fork, state.size)
    assert result.outcome == Outcome.SPLIT_VIEW and "same size 6" in result.reason
    assert result.state == state and result.cosigned is None
    assert result.alarm is not None
    assert result.alarm.kept == state.checkpoint and result.alarm.offered == fork.checkpoint()
    # the evidence stands on its own: both notes carry the log's valid signature
    kept = open_checkpoint(result.alarm.kept, LOG_KEY.verifier).checkpoint
    offered = open_checkpoint(result.alarm.offered, LOG_KEY.verifier).checkpoint
    assert kept.size == offered.size and kept.root != offered.root


def test_rewriting_history_is_caught_by_the_consistency_proof():
    """The operator drops a leaf, appends two, re-signs: its own proof cannot connect the trees."""
    log = MemoryLog()
    log.add_records(10)
    state = _state_at(log)
    rewritten = MemoryLog()
    rewritten.add(*(leaf for i, leaf in enumerate(log.leaves) if i != 3))
    rewritten.add_records(2, first=10)
    assert rewritten.size == 11
    result = _observe(state, rewritten, state.size)
    assert result.outcome == Outcome.SPLIT_VIEW and "not shown to extend" in result.reason
    assert result.state == state
    honest = MemoryLog()
    honest.add(*log.leaves)
    honest.add_records(1, first=10)
    assert _observe(state, honest, state.size).outcome == Outcome.COSIGNED


def test_a_missing_or_garbled_proof_is_a_split_view_not_a_cosignature():
    log = MemoryLog()
    log.add_records(7)
    state = _state_at(log)
    log.add_records(4, first=7)
    for proof in [(), log.consistency(state.size).proof[:-1], (bytes(32),) * 4]:
        result = observe(state, log.checkpoint(), proof, LOG_KEY.verifier, WITNESS_KEY)
        assert result.outcome == Outcome.SPLIT_VIEW and result.cosigned is None


def test_checkpoints_not_signed_by_the_log_or_of_another_log_are_refused():
    log = MemoryLog()
    log.add_records(3)
    state = _state_at(log)
    impostor = MemoryLog(signer=Signer(LOG_KEY.name, bytes(32)))
    impostor.add_records(4)
    result = _observe(state, impostor, state.size)
    assert result.outcome == Outcome.REFUSED and "not a checkpoint signed by the log" in result.reason
    other = Signer("other.log", bytes(range(1, 33)))
    other_log = MemoryLog(signer=other)
    other_log.add_records(4)
    moved = observe(state, other_log.checkpoint(), (), other.verifier, WITNESS_KEY)
    assert moved.outcome == Outcome.REFUSED and "other.log" in moved.reason
    garbage = observe(state, sign("not a checkpoint\n", LOG_KEY), (), LOG_KEY.verifier, WITNESS_KEY)
    assert garbage.outcome == Outcome.REFUSED


def test_from_the_empty_tree_any_tree_is_consistent():
    empty = MemoryLog()
    state = _state_at(empty)
    assert state.size == 0
    empty.add_records(3)
    assert _observe(state, empty, 0).outcome == Outcome.COSIGNED


def test_the_state_is_small_json_and_refused_when_malformed():
    log = MemoryLog()
    log.add_records(2)
    state = _state_at(log)
    text = state.to_json()
    assert WitnessState.from_json(text) == state
    assert open_note(state.checkpoint, [LOG_KEY.verifier]).text.startswith(LOG_KEY.name)
    def changed(**fields) -> str:
        return json.dumps({**json.loads(text), **fields})

    for broken in ["", "[]", changed(v=2), changed(size=-2), changed(size=True), changed(root="AAAA"),
                   changed(root="not base64!"), changed(extra=1)]:
        with pytest.raises(WitnessStateError):
            WitnessState.from_json(broken)


def test_a_witness_follows_the_log_across_a_key_rotation():
    log = MemoryLog()
    log.add_records(5)
    state = _state_at(log)
    new_key = Signer(LOG_KEY.name, bytes(range(100, 132)))
    log.signer = new_key
    log.add_records(3, first=5)
    proof = log.consistency(5).proof
    both = observe(state, log.checkpoint(), proof, [LOG_KEY.verifier, new_key.verifier], WITNESS_KEY)
    assert both.outcome == Outcome.COSIGNED and both.state is not None and both.state.size == 8
    old_only = observe(state, log.checkpoint(), proof, LOG_KEY.verifier, WITNESS_KEY)
    assert old_only.outcome == Outcome.REFUSED
