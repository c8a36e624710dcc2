"""A tiny in-memory log for the transparency tests: leaves, stored nodes, signed checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from transparency.checkpoint import Checkpoint, sign_checkpoint
from transparency.leaf import LeafRecord, encode
from transparency.merkle import Node, append, consistency_proof, inclusion_proof, leaf_hash, root_from_nodes
from transparency.note import Signer
from transparency.verify import ConsistencyProof, InclusionProof

ORIGIN = "carbon-planet.test/log"
LOG_KEY = Signer(ORIGIN, bytes(range(32)))  # fixed seed: the same key in every run
WITNESS_KEY = Signer("witness.test", bytes(range(32, 64)))


def record(n: int) -> LeafRecord:
    """The n-th test transaction: a credit of n+1 points to a player."""
    return LeafRecord.of(f"00000000-0000-4000-8000-{n:012d}", "credit",
                         [(f"player:{n % 7}", "CARBON_POINT", n + 1), ("system:issuance:03", "CARBON_POINT", -(n + 1))],
                         f"partner-a:{n}", datetime(2026, 5, 1, 8, 30, tzinfo=UTC) + timedelta(seconds=n))


@dataclass
class MemoryLog:
    signer: Signer = LOG_KEY
    leaves: list[bytes] = field(default_factory=list)
    nodes: dict[Node, bytes] = field(default_factory=dict)

    def add(self, *leaves: bytes) -> None:
        self.nodes.update(append(len(self.leaves), self.nodes, [leaf_hash(leaf) for leaf in leaves]))
        self.leaves.extend(leaves)

    def add_records(self, count: int, first: int = 0) -> None:
        self.add(*(encode(record(n)) for n in range(first, first + count)))

    @property
    def size(self) -> int:
        return len(self.leaves)

    def checkpoint(self) -> str:
        return sign_checkpoint(Checkpoint(self.signer.name, self.size, root_from_nodes(self.size, self.nodes)),
                               self.signer)

    def inclusion(self, index: int, with_checkpoint: bool = False) -> InclusionProof:
        return InclusionProof(index, self.size, tuple(inclusion_proof(index, self.size, self.nodes)),
                              leaf=self.leaves[index], checkpoint=self.checkpoint() if with_checkpoint else None)

    def consistency(self, old_size: int) -> ConsistencyProof:
        proof = consistency_proof(old_size, self.size, self.nodes) if old_size else []
        return ConsistencyProof(old_size, self.size, tuple(proof))
