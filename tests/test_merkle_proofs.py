"""Proofs built from stored nodes agree with RFC 6962's definitions, for every leaf and size.

The reference is the RFC's recursive PATH and PROOF over the leaves, written out literally
(with MTH memoised so that it is quick); the code under test only ever sees the stored
perfect nodes it asked for.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transparency.merkle import (
    EMPTY_ROOT,
    Node,
    ProofError,
    Span,
    append,
    consistency_nodes,
    consistency_proof,
    consistency_spans,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    root_from_nodes,
    root_nodes,
    span_nodes,
    verify_consistency,
    verify_inclusion,
)


class Reference:
    """RFC 6962 §2.1 over an explicit list of leaf hashes."""

    def __init__(self, hashes: list[bytes]) -> None:
        self.hashes = hashes
        self.mth = cache(self._mth)

    def _mth(self, start: int, end: int) -> bytes:
        if end == start:
            return EMPTY_ROOT
        if end - start == 1:
            return self.hashes[start]
        k = 1
        while 2 * k < end - start:
            k *= 2
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = 1
        while 2 * k < end - start:
            k *= 2
        if m < k:
            return self.path(m, start, start + k) + [self.mth(start + k, end)]
        return self.path(m - k, start + k, end) + [self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        if m == end - start:
            return [] if complete else [self.mth(start, end)]
        k = 1
        while 2 * k < end - start:
            k *= 2
        if m <= k:
            return self.subproof(m, start, start + k, complete) + [self.mth(start + k, end)]
        return self.subproof(m - k, start + k, end, False) + [self.mth(start, start + k)]


def _leaves(n: int, salt: int) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


def _only(nodes: set[Node], stored: dict[Node, bytes]) -> dict[Node, bytes]:
    """The stored hashes of just these addresses: what one query for them returns."""
    return {node: stored[node] for node in nodes}


@settings(max_examples=20, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), salt=st.integers(min_value=0, max_value=10**6),
       batches=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_every_proof_from_stored_nodes_matches_the_reference_and_verifies(size, salt, batches):
    hashes = _leaves(size, salt)
    stored: dict[Node, bytes] = {}
    appended = 0
    for batch in [*batches, size]:  # appended in random batches, as a sequencer would
        chunk = hashes[appended:appended + batch]
        stored.update(append(appended, stored, chunk))
        appended += len(chunk)
        if appended == size:
            break
    assert stored == append(0, {}, hashes)
    assert all(node.end <= size for node in stored)  # only completed subtrees are stored
    ref = Reference(hashes)
    root = ref.mth(0, size)
    assert root == root_from_leaf_hashes(hashes) == root_from_nodes(size, _only(set(root_nodes(size)), stored))
    for index in range(size):
        wanted = inclusion_nodes(index, size)
        assert len(wanted) <= 2 * size.bit_length()
        proof = inclusion_proof(index, size, _only(wanted, stored))
        assert proof == ref.path(index, 0, size)
        verify_inclusion(hashes[index], index, size, proof, root)
    for first in range(1, size + 1):
        wanted = consistency_nodes(first, size)
        proof = consistency_proof(first, size, _only(wanted, stored))
        assert proof == ref.subproof(first, 0, size, True)
        verify_consistency(first, size, proof, ref.mth(0, first), root)


@settings(max_examples=50, deadline=None)
@given(size=st.integers(min_value=2, max_value=300), data=st.data())
def test_a_proof_for_another_leaf_or_root_is_refused(size, data):
    hashes = _leaves(size, 7)
    stored = append(0, {}, hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
    root = root_from_nodes(size, stored)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[other], index, size, inclusion_proof(index, size, stored), root)
    first = data.draw(st.integers(min_value=1, max_value=size - 1))
    proof = consistency_proof(first, size, stored)
    with pytest.raises(ProofError):  # a first tree whose last leaf was rewritten
        verify_consistency(first, size, proof, root_from_leaf_hashes([*hashes[:first - 1], hashes[first]]), root)


def test_spans_name_perfect_nodes_and_right_edges():
    assert span_nodes(Span(8, 13)) == (Node(2, 2), Node(0, 12))
    assert span_nodes(Span(0, 8)) == (Node(3, 0),)
    assert Span(4, 8).perfect and not Span(8, 13).perfect
    assert consistency_spans(6, 13) == [Span(4, 6), Span(6, 8), Span(0, 4), Span(8, 13)]
    assert Node(2, 3).children() == (Node(1, 6), Node(1, 7)) and (Node(2, 3).start, Node(2, 3).end) == (12, 16)
    with pytest.raises(ValueError):
        span_nodes(Span(3, 7))  # not a subtree of any Merkle tree


@pytest.mark.parametrize("index, size", [(0, 0), (5, 5), (-1, 3), (True, 3)])
def test_proof_requests_for_leaves_outside_the_tree_are_refused(index, size):
    with pytest.raises(ProofError):
        inclusion_nodes(index, size)


def test_a_missing_stored_node_is_named():
    stored = append(0, {}, _leaves(13, 1))
    del stored[Node(2, 2)]
    with pytest.raises(KeyError) as missing:
        inclusion_proof(0, 13, stored)
    assert missing.value.args[0] == Node(2, 2)
