"""Benchmark: the transparency log's pure work, per transaction and per proof, against floors.

    .venv/bin/python -m bench.transparency_core [--transactions 200000] [--batch 5000]
        [--size 10000000] [--proofs 20000]

Sequencing CPU: the leaf encoding of each transaction, its leaf hash and the tree nodes it
completes (`transparency.merkle.append`, in batches as the sequencer runs), against the floor
of one SHA-256 over the same leaf bytes. Proofs at the city's size (a tree of `--size`
leaves, its stored nodes stood in for by a mapping that makes each hash on request):
addressing, assembling and verifying an inclusion and a consistency proof, against the floor
of the SHA-256 compressions a verifier cannot avoid (one per proof hash). The database
query that fetches the nodes is not in these figures (see the log's server benchmark).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from transparency.leaf import LeafRecord, encode
from transparency.merkle import (
    Node,
    ProofError,
    append,
    assemble,
    consistency_spans,
    inclusion_spans,
    leaf_hash,
    node_hash,
    nodes_for,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)


class SyntheticNodes(Mapping[Node, bytes]):
    """Stored node hashes of a tree too large to build: each made on request from its address."""

    def __getitem__(self, node: Node) -> bytes:
        return hashlib.sha256(f"{node.level}/{node.index}".encode()).digest()

    def __iter__(self) -> Iterator[Node]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


def _records(count: int) -> list[LeafRecord]:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    return [LeafRecord.of(f"{n:08x}-0000-4000-8000-{n:012x}", "credit",
                          [(f"player:{n % 100_000:032x}", "CARBON_POINT", 25),
                           (f"system:issuance:{n % 16:02d}", "CARBON_POINT", -25),
                           (f"player:{n % 100_000:032x}", "CO2E_GRAMS", 1_234),
                           ("system:reductions", "CO2E_GRAMS", -1_234)],
                          f"partner-{n % 5}:{n}", start + timedelta(microseconds=n)) for n in range(count)]


def sequencing(transactions: int, batch: int) -> None:
    records = _records(transactions)
    leaves = [encode(r) for r in records]
    began = time.perf_counter()
    for leaf in leaves:
        hashlib.sha256(leaf).digest()
    floor = (time.perf_counter() - began) / transactions

    began = time.perf_counter()
    nodes: dict[Node, bytes] = {}
    frontier: dict[Node, bytes] = {}
    size = 0
    for first in range(0, transactions, batch):
        chunk = [leaf_hash(encode(r)) for r in records[first:first + batch]]
        created = append(size, frontier, chunk)
        nodes.update(created)
        size += len(chunk)
        known = {**frontier, **created}
        frontier = {node: known[node] for node in root_nodes(size)}
    per_tx = (time.perf_counter() - began) / transactions
    print(f"sequencing {transactions} transactions in batches of {batch}: {len(nodes) / transactions:.2f} "
          f"nodes stored per transaction")
    print(f"  {'floor (one SHA-256 of the leaf)':<40} {floor * 1e6:8.2f} µs per transaction")
    print(f"  {'encode + leaf hash + append (new nodes)':<40} {per_tx * 1e6:8.2f} µs per transaction "
          f"({per_tx / floor:.1f}× the floor)")


def proofs(size: int, count: int) -> None:
    stored = SyntheticNodes()
    rng = random.Random(17)
    indexes = [rng.randrange(size) for _ in range(count)]
    firsts = [rng.randrange(1, size) for _ in range(count)]

    lengths = [len(inclusion_spans(i, size)) for i in indexes[:100]]
    pair = (bytes(32), bytes(32))
    began = time.perf_counter()
    for _ in range(count):
        for _ in range(max(lengths)):
            node_hash(*pair)
    floor = (time.perf_counter() - began) / count

    # what the server does around its one query: the addresses to fetch, then the proof
    # assembled from the rows fetched (made ahead here, so that the stand-in's hashing is not timed)
    began = time.perf_counter()
    inclusion_wanted = [(spans, nodes_for(spans)) for spans in (inclusion_spans(i, size) for i in indexes)]
    address = (time.perf_counter() - began) / count
    fetched = [{node: stored[node] for node in wanted} for _, wanted in inclusion_wanted]
    began = time.perf_counter()
    made = [assemble(spans, rows) for (spans, _), rows in zip(inclusion_wanted, fetched)]
    build = (time.perf_counter() - began) / count

    root = bytes(32)  # synthetic hashes lead to no real root: the whole fold is timed, then refused
    began = time.perf_counter()
    for index, proof in zip(indexes, made):
        try:
            verify_inclusion(stored[Node(0, index)], index, size, proof, root)
        except ProofError:
            pass
    verify = (time.perf_counter() - began) / count

    began = time.perf_counter()
    consistency_wanted = [(spans, nodes_for(spans)) for spans in (consistency_spans(f, size) for f in firsts)]
    address_c = (time.perf_counter() - began) / count
    fetched = [{node: stored[node] for node in wanted} for _, wanted in consistency_wanted]
    began = time.perf_counter()
    consistency = [assemble(spans, rows) for (spans, _), rows in zip(consistency_wanted, fetched)]
    build_c = (time.perf_counter() - began) / count
    began = time.perf_counter()
    for first, proof in zip(firsts, consistency):
        try:
            verify_consistency(first, size, proof, root, root)
        except ProofError:
            pass
    verify_c = (time.perf_counter() - began) / count

    print(f"proofs in a tree of {size:,} leaves ({max(lengths)} hashes in an audit path), {count} of each")
    print(f"  {f'floor ({max(lengths)} node hashes)':<40} {floor * 1e6:8.2f} µs")
    rows = [
        ("inclusion: node addresses", address), ("inclusion: assemble from the rows", build),
        ("inclusion: verify", verify), ("consistency: node addresses", address_c),
        ("consistency: assemble from the rows", build_c), ("consistency: verify", verify_c),
    ]
    for label, seconds in rows:
        print(f"  {label:<40} {seconds * 1e6:8.2f} µs ({seconds / floor:.1f}× the floor)")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    args = parser.parse_args()
    sequencing(args.transactions, args.batch)
    proofs(args.size, args.proofs)


if __name__ == "__main__":
    main()
