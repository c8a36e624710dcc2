"""RFC 6962 / RFC 9162 Merkle tree hashing, stored-node proof generation and proof verification.

Hashes: ``leaf_hash(d) = SHA-256(0x00 ‖ d)``, ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``; the
root of the empty tree is ``SHA-256("")``.

Storage addressing: a :class:`Node` ``(level, index)`` is the *perfect* subtree of ``2**level``
leaves covering leaves ``[index·2**level, (index+1)·2**level)``; level 0 holds the leaf hashes.
A node exists once its last leaf is in the log and never changes after. Every hash in an
RFC 6962 proof is the hash of a :class:`Span` ``[start, end)`` whose ``start`` is a multiple of a
power of two at least ``end - start``: either one perfect node, or an *imperfect right edge*
(``end`` is the tree size) whose hash folds a few perfect nodes (:func:`span_nodes`).

A server asks :func:`inclusion_spans` / :func:`consistency_spans` which spans a proof needs,
fetches :func:`nodes_for` of them in one query, and builds the proof with :func:`assemble`
(or the shortcuts :func:`inclusion_proof` / :func:`consistency_proof`). The sequencer stores
the nodes :func:`append` returns. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from transparency.errors import ProofError as ProofError  # re-exported for callers of this module

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, order=True, slots=True)
class Node:
    """A perfect subtree: ``2**level`` leaves starting at leaf ``index·2**level``."""

    level: int
    index: int

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level

    def children(self) -> tuple[Node, Node]:
        """The two nodes one level down whose hashes make this one (level ≥ 1)."""
        if self.level == 0:
            raise ValueError("a leaf has no children")
        return Node(self.level - 1, 2 * self.index), Node(self.level - 1, 2 * self.index + 1)


@dataclass(frozen=True, order=True, slots=True)
class Span:
    """The leaves ``[start, end)``; its hash is MTH of those leaves (RFC 6962 §2.1)."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def perfect(self) -> bool:
        size = self.size
        return size > 0 and size & (size - 1) == 0 and self.start % size == 0


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def span_nodes(span: Span) -> tuple[Node, ...]:
    """The perfect nodes whose hashes fold (right to left) into the span's hash, largest first."""
    start, end = span.start, span.end
    if not 0 <= start < end:
        raise ValueError(f"not a span of leaves: [{start}, {end})")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"[{span.start}, {span.end}) is not a subtree of any Merkle tree")
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return tuple(nodes)


def span_hash(span: Span, hashes: Mapping[Node, bytes]) -> bytes:
    """The span's hash from stored perfect-node hashes (KeyError names a missing node)."""
    nodes = span_nodes(span)
    result = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        result = node_hash(hashes[node], result)
    return result


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def inclusion_spans(index: int, size: int) -> list[Span]:
    """The spans whose hashes form the audit path of leaf ``index`` in a tree of ``size`` (bottom up)."""
    _check_size("index", index)
    _check_size("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    spans: list[Span] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            spans.append(Span(start + k, end))
            end = start + k
        else:
            spans.append(Span(start, start + k))
            start += k
    spans.reverse()
    return spans


def consistency_spans(size1: int, size2: int) -> list[Span]:
    """The spans whose hashes form the RFC 6962 consistency proof from ``size1`` to ``size2``."""
    _check_size("first size", size1)
    _check_size("second size", size2)
    if size1 > size2:
        raise ProofError(f"first size {size1} is larger than second size {size2}")
    if size1 == 0 or size1 == size2:
        return []
    spans: list[Span] = []
    start, end, complete = 0, size2, True
    m = size1
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            spans.append(Span(start + k, end))
            end = start + k
        else:
            spans.append(Span(start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        spans.append(Span(start, end))
    spans.reverse()
    return spans


def nodes_for(spans: Iterable[Span]) -> set[Node]:
    """Every stored perfect node needed to compute the hashes of ``spans``."""
    return {node for span in spans for node in span_nodes(span)}


def assemble(spans: Sequence[Span], hashes: Mapping[Node, bytes]) -> list[bytes]:
    """The proof: each span's hash, in order, from a mapping of (at least) ``nodes_for(spans)``."""
    return [span_hash(span, hashes) for span in spans]


def inclusion_nodes(index: int, size: int) -> set[Node]:
    """The stored nodes to fetch for the inclusion proof of leaf ``index`` in a tree of ``size``."""
    return nodes_for(inclusion_spans(index, size))


def consistency_nodes(size1: int, size2: int) -> set[Node]:
    """The stored nodes to fetch for the consistency proof from ``size1`` to ``size2``."""
    return nodes_for(consistency_spans(size1, size2))


def inclusion_proof(index: int, size: int, hashes: Mapping[Node, bytes]) -> list[bytes]:
    return assemble(inclusion_spans(index, size), hashes)


def consistency_proof(size1: int, size2: int, hashes: Mapping[Node, bytes]) -> list[bytes]:
    return assemble(consistency_spans(size1, size2), hashes)


def root_nodes(size: int) -> tuple[Node, ...]:
    """The stored nodes whose hashes fold into the root of a tree of ``size`` (empty for 0)."""
    _check_size("tree size", size)
    return span_nodes(Span(0, size)) if size else ()


def root_from_nodes(size: int, hashes: Mapping[Node, bytes]) -> bytes:
    """The root of a tree of ``size`` from stored nodes (:func:`root_nodes`)."""
    return span_hash(Span(0, size), hashes) if size else EMPTY_ROOT


def append(size: int, frontier: Mapping[Node, bytes], leaf_hashes: Sequence[bytes]) -> dict[Node, bytes]:
    """Every node completed by appending ``leaf_hashes`` to a tree of ``size`` leaves.

    ``frontier`` holds (at least) ``root_nodes(size)``. The result includes the new leaves
    (level 0) and every interior node they complete; the new frontier is
    ``root_nodes(size + len(leaf_hashes))``, all found in ``frontier`` or the result.
    """
    _check_size("tree size", size)
    known: dict[Node, bytes] = {node: frontier[node] for node in root_nodes(size)}
    created: dict[Node, bytes] = {}
    for offset, value in enumerate(leaf_hashes):
        node = Node(0, size + offset)
        created[node] = known[node] = value
        while node.index & 1:
            parent = Node(node.level + 1, node.index >> 1)
            left, right = parent.children()
            created[parent] = known[parent] = node_hash(known[left], known[right])
            node = parent
    return created


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (RFC 6962 §2.1), computed directly."""
    if not leaf_hashes:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (leaf count, hash) of the perfect subtrees so far, left to right
    for value in leaf_hashes:
        count, current = 1, value
        while stack and stack[-1][0] == count:
            count, current = 2 * count, node_hash(stack.pop()[1], current)
        stack.append((count, current))
    result = stack[-1][1]
    for _, value in reversed(stack[:-1]):
        result = node_hash(value, result)
    return result


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{name} must be a {HASH_SIZE}-byte SHA-256 hash, got {length}")


def _inner_proof_size(index: int, size: int) -> int:
    return (index ^ (size - 1)).bit_length()


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root the audit path leads to (RFC 9162 §2.1.3.2 steps 1–4); refuses malformed input."""
    _check_size("leaf index", index)
    _check_size("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf)
    for position, item in enumerate(proof):
        _check_hash(f"proof hash {position}", item)
    fn, sn = index, size - 1
    result = bytes(leaf)
    for item in proof:
        if sn == 0:
            raise ProofError(f"the proof is too long for leaf {index} in a tree of {size}")
        if fn & 1 or fn == sn:
            result = node_hash(item, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the proof is too short for leaf {index} in a tree of {size}")
    return result


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise :class:`ProofError` unless ``leaf`` (a leaf hash) is at ``index`` under ``root``."""
    _check_hash("root hash", root)
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if computed != root:
        raise ProofError(f"the inclusion proof for leaf {index} leads to a different root than the tree of {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless the tree ``(size2, root2)`` extends ``(size1, root1)``.

    Equal sizes need an empty proof and equal roots. A first size of 0 is refused: every tree
    extends the empty one, so such a "proof" proves nothing (a caller that starts from
    nothing just trusts its first checkpoint).
    """
    _check_size("first size", size1)
    _check_size("second size", size2)
    if size1 > size2:
        raise ProofError(f"first size {size1} is larger than second size {size2}: a log never shrinks")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("trees of equal size need an empty consistency proof")
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    _check_hash("first root hash", root1)
    _check_hash("second root hash", root2)
    if not proof:
        raise ProofError(f"an empty consistency proof cannot show that {size2} leaves extend {size1}")
    for position, item in enumerate(proof):
        _check_hash(f"proof hash {position}", item)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for item in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency proof from {size1} to {size2} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(item, fr)
            sr = node_hash(item, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the consistency proof from {size1} to {size2} is too short")
    if fr != root1:
        raise ProofError(f"the consistency proof does not lead to the first root (size {size1})")
    if sr != root2:
        raise ProofError(f"the consistency proof does not lead to the second root (size {size2})")
