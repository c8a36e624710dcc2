"""Offline verification: a leaf against a signed checkpoint, and two checkpoints against each other.

The proofs travel as small JSON objects, hashes and leaf bytes in standard base64. An
inclusion proof::

    {"leaf": "<leaf bytes>", "leaf_hash": "<32 bytes>", "leaf_index": 5, "tree_size": 10,
     "proof": ["<32 bytes>", ...], "checkpoint": "<signed note>", "transaction_id": "<id>"}

``leaf`` or ``leaf_hash`` may be left out (not both; when both are there they must agree),
and so may ``checkpoint`` when the verifier has it from elsewhere, and ``transaction_id``
(when present, the leaf must be that transaction's). The GraphQL ``ledgerProof`` object is
read as well (``leafIndex``, ``treeSize``, ``inclusionProof``, ``transactionId``, alone or
inside the whole ``{"data": {"ledgerProof": …}}`` answer). A consistency proof is the HTTP
answer of ``/log/proof/consistency``::

    {"from": 7, "to": 10, "proof": ["<32 bytes>", ...]}
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transparency.checkpoint import Checkpoint, LogKeys, open_checkpoint
from transparency.errors import LeafError, ProofError
from transparency.leaf import LeafRecord, decode
from transparency.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProofError(f"{what} must be a base64 string")
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProofError(f"{what} is not valid base64") from None
    return decoded


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{what} must be a non-negative integer")
    return value


def _hashes(value: object, what: str) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProofError(f"{what} must be a list of base64 hashes")
    return tuple(_unb64(item, f"{what}[{i}]") for i, item in enumerate(value))


def _object(data: object, keys: set[str], required: set[str], what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ProofError(f"{what} must be a JSON object")
    unknown = set(data) - keys
    if unknown:
        raise ProofError(f"{what} has unknown fields: {', '.join(sorted(unknown))}")
    missing = required - set(data)
    if missing:
        raise ProofError(f"{what} lacks the fields: {', '.join(sorted(missing))}")
    return data


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    proof: tuple[bytes, ...]
    leaf: bytes | None = None
    leaf_hash: bytes | None = None
    checkpoint: str | None = None
    transaction_id: str | None = None

    def resolved_leaf_hash(self) -> bytes:
        """The leaf hash to verify: from the leaf bytes, checked against ``leaf_hash`` if both are given."""
        if self.leaf is not None:
            computed = leaf_hash(self.leaf)
            if self.leaf_hash is not None and self.leaf_hash != computed:
                raise ProofError("the leaf bytes do not hash to the leaf hash given with them")
            return computed
        if self.leaf_hash is None:
            raise ProofError("an inclusion proof needs the leaf or its hash")
        return self.leaf_hash

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"leaf_index": self.leaf_index, "tree_size": self.tree_size,
                                "proof": [_b64(h) for h in self.proof]}
        if self.leaf is not None:
            data["leaf"] = _b64(self.leaf)
        data["leaf_hash"] = _b64(self.resolved_leaf_hash())
        if self.checkpoint is not None:
            data["checkpoint"] = self.checkpoint
        if self.transaction_id is not None:
            data["transaction_id"] = self.transaction_id
        return data

    @classmethod
    def from_json(cls, data: object) -> InclusionProof:
        """From the file format above, or from GraphQL's ``ledgerProof`` (alone or in its answer)."""
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "ledgerProof" in data["data"]:
            data = data["data"]["ledgerProof"]
        if isinstance(data, dict) and "leafIndex" in data:
            unknown = set(data) - set(_GRAPHQL_NAMES) - {"__typename"}
            if unknown:
                raise ProofError(f"a ledgerProof has unknown fields: {', '.join(sorted(unknown))}")
            data = {_GRAPHQL_NAMES[name]: value for name, value in data.items() if name != "__typename"}
        fields = _object(data, set(_GRAPHQL_NAMES.values()), {"leaf_index", "tree_size", "proof"},
                         "an inclusion proof")
        for name in ("checkpoint", "transaction_id"):
            if fields.get(name) is not None and not isinstance(fields[name], str):
                raise ProofError(f"an inclusion proof's {name} is a string")
        return cls(
            leaf_index=_int(fields["leaf_index"], "leaf_index"),
            tree_size=_int(fields["tree_size"], "tree_size"),
            proof=_hashes(fields["proof"], "proof"),
            leaf=None if fields.get("leaf") is None else _unb64(fields["leaf"], "leaf"),
            leaf_hash=None if fields.get("leaf_hash") is None else _unb64(fields["leaf_hash"], "leaf_hash"),
            checkpoint=fields.get("checkpoint"),
            transaction_id=fields.get("transaction_id"),
        )


# GraphQL's ledgerProof field names, and the file format's
_GRAPHQL_NAMES = {"transactionId": "transaction_id", "leaf": "leaf", "leafHash": "leaf_hash", "leafIndex": "leaf_index",
                  "treeSize": "tree_size", "inclusionProof": "proof", "checkpoint": "checkpoint"}


@dataclass(frozen=True)
class ConsistencyProof:
    size1: int
    size2: int
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.size1, "to": self.size2, "proof": [_b64(h) for h in self.proof]}

    @classmethod
    def from_json(cls, data: object) -> ConsistencyProof:
        fields = _object(data, {"from", "to", "proof"}, {"from", "to", "proof"}, "a consistency proof")
        return cls(_int(fields["from"], "from"), _int(fields["to"], "to"), _hashes(fields["proof"], "proof"))


@dataclass(frozen=True)
class InclusionVerdict:
    """A leaf verified to be at ``leaf_index`` in the signed ``checkpoint``."""

    checkpoint: Checkpoint
    leaf_index: int
    leaf_hash: bytes
    record: LeafRecord | None  # the decoded ledger transaction, when the leaf bytes were given


def verify_inclusion_proof(proof: InclusionProof, checkpoint_note: bytes | str | None,
                           log_key: LogKeys) -> InclusionVerdict:
    """Check the checkpoint's signature, then that the leaf is in the tree it signs.

    ``checkpoint_note`` may be None when the proof carries its checkpoint; when both are
    there they must be the same tree.
    """
    if checkpoint_note is None:
        if proof.checkpoint is None:
            raise ProofError("no checkpoint to verify the proof against")
        checkpoint_note = proof.checkpoint
    checkpoint = open_checkpoint(checkpoint_note, log_key).checkpoint
    if proof.checkpoint is not None and proof.checkpoint != checkpoint_note:
        carried = open_checkpoint(proof.checkpoint, log_key).checkpoint
        if (carried.size, carried.root) != (checkpoint.size, checkpoint.root):
            raise ProofError("the proof carries a checkpoint of another tree than the one given")
    if proof.tree_size != checkpoint.size:
        raise ProofError(f"the proof is for a tree of {proof.tree_size} leaves, the checkpoint signs {checkpoint.size}")
    hashed = proof.resolved_leaf_hash()
    verify_inclusion(hashed, proof.leaf_index, checkpoint.size, proof.proof, checkpoint.root)
    record = None
    if proof.leaf is not None:
        try:
            record = decode(proof.leaf)
        except LeafError:
            record = None
    if proof.transaction_id is not None and (record is None or record.transaction_id != proof.transaction_id):
        raise ProofError(f"the leaf is not the transaction {proof.transaction_id} the proof is said to be for")
    return InclusionVerdict(checkpoint, proof.leaf_index, hashed, record)


def check_consistency(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise :class:`ProofError` unless ``new`` extends ``old`` (same log, larger or equal tree)."""
    if old.origin != new.origin:
        raise ProofError(f"the checkpoints are of two logs: {old.origin!r} and {new.origin!r}")
    if old.size == 0:
        if old.root != EMPTY_ROOT:
            raise ProofError("a checkpoint of the empty tree must carry the empty root")
        if proof:
            raise ProofError("every tree extends the empty one: the proof must be empty")
        return
    verify_consistency(old.size, new.size, proof, old.root, new.root)


@dataclass(frozen=True)
class ConsistencyVerdict:
    old: Checkpoint
    new: Checkpoint


def verify_consistency_proof(old_note: bytes | str, new_note: bytes | str, proof: ConsistencyProof,
                             log_key: LogKeys) -> ConsistencyVerdict:
    """Check both checkpoints' signatures, then that the newer tree extends the older one."""
    old = open_checkpoint(old_note, log_key).checkpoint
    new = open_checkpoint(new_note, log_key).checkpoint
    if (proof.size1, proof.size2) != (old.size, new.size):
        raise ProofError(f"the proof is from {proof.size1} to {proof.size2} leaves, "
                         f"the checkpoints sign {old.size} and {new.size}")
    check_consistency(old, new, proof.proof)
    return ConsistencyVerdict(old, new)

