"""The Merkle verifier against test vectors: the public RFC 6962 set and the project's own.

The public set (transparency-dev/merkle's testdata, in ../shared/testdata/merkle beside a
team checkout) is run whole when present: every happy path verifies, every mutation is
refused. The project's own vectors in tests/vectors/merkle are made by this package's
stored-node proof generator over the RFC 6962 reference leaves plus five more; the
generator is cross-checked here against the public vectors' proofs and roots, and the
committed files against a fresh generation. Regenerate with
``python -m tests.test_merkle_vectors``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from transparency.merkle import (
    ProofError,
    append,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "merkle"
OURS = Path(__file__).parent / "vectors" / "merkle"

# The leaves of the reference tree in RFC 6962's test suite (and transparency-dev/merkle's).
REFERENCE_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                    bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
# Their published roots for sizes 1 to 8.
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# The project's tree: the reference leaves and five of ours, 13 in all (not a power of two,
# so proofs cross imperfect right edges).
OUR_LEAVES = REFERENCE_LEAVES + [f"carbon-planet leaf {i}".encode() for i in range(8, 13)]
OUR_INCLUSION = [(0, 1), (0, 13), (5, 13), (7, 13), (8, 13), (11, 13), (12, 13), (4, 5), (6, 7), (9, 10)]
OUR_CONSISTENCY = [(1, 13), (3, 13), (4, 13), (7, 13), (8, 13), (12, 13), (13, 13), (5, 6), (6, 11), (9, 10)]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _unb64(value: str) -> bytes:
    return base64.b64decode(value)


def _hashes(values: list[str] | None) -> list[bytes]:
    return [_unb64(v) for v in values or []]


def run_case(case: dict) -> None:
    """Verify one vector file's case; raises ProofError when the verifier refuses it."""
    if "leafIdx" in case:
        verify_inclusion(_unb64(case["leafHash"]), case["leafIdx"], case["treeSize"], _hashes(case["proof"]),
                         _unb64(case["root"]))
    else:
        verify_consistency(case["size1"], case["size2"], _hashes(case["proof"]), _unb64(case["root1"]),
                           _unb64(case["root2"]))


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def _id(folder: Path):
    return lambda path: str(path.relative_to(folder))


SHARED_FILES = _files(SHARED)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/testdata/merkle is only beside a team checkout")
def test_the_shared_vectors_are_all_found():
    assert len(SHARED_FILES) == 196  # every case of the copied testdata, none lost
    happy = [p for p in SHARED_FILES if p.name == "happy-path.json"]
    assert len(happy) == 10


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/testdata/merkle is only beside a team checkout")
@pytest.mark.parametrize("path", SHARED_FILES, ids=_id(SHARED))
def test_shared_vector(path: Path):
    case = json.loads(path.read_text())
    if path.name == "happy-path.json":
        assert case["wantErr"] is False
    if case["wantErr"]:
        with pytest.raises(ProofError) as refused:
            run_case(case)
        assert refused.value.reason
    else:
        run_case(case)


def _store(leaves: list[bytes]):
    return append(0, {}, [leaf_hash(leaf) for leaf in leaves])


def test_the_reference_tree_has_the_published_roots():
    hashes = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]
    stored = _store(REFERENCE_LEAVES)
    for size in range(1, 9):
        assert root_from_leaf_hashes(hashes[:size]).hex() == REFERENCE_ROOTS[size - 1]
        assert root_from_nodes(size, stored).hex() == REFERENCE_ROOTS[size - 1]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/testdata/merkle is only beside a team checkout")
@pytest.mark.parametrize("path", [p for p in SHARED_FILES if p.name == "happy-path.json"], ids=_id(SHARED))
def test_the_generator_reproduces_the_shared_happy_paths(path: Path):
    """Proofs made from stored nodes of the reference tree are the published proofs, byte for byte."""
    case = json.loads(path.read_text())
    stored = _store(REFERENCE_LEAVES)
    if "leafIdx" in case:
        size = case["treeSize"]
        assert _b64(leaf_hash(REFERENCE_LEAVES[case["leafIdx"]])) == case["leafHash"]
        assert _b64(root_from_nodes(size, stored)) == case["root"]
        assert inclusion_proof(case["leafIdx"], size, stored) == _hashes(case["proof"])
    else:
        assert _b64(root_from_nodes(case["size1"], stored)) == case["root1"]
        assert _b64(root_from_nodes(case["size2"], stored)) == case["root2"]
        assert consistency_proof(case["size1"], case["size2"], stored) == _hashes(case["proof"])


def generate() -> dict[str, dict]:
    """The project's vectors, by file name under tests/vectors/merkle."""
    stored = _store(OUR_LEAVES)
    cases: dict[str, dict] = {
        "leaves.json": {"leaves": [_b64(leaf) for leaf in OUR_LEAVES],
                        "leafHashes": [_b64(leaf_hash(leaf)) for leaf in OUR_LEAVES],
                        "roots": [_b64(root_from_nodes(n, stored)) for n in range(1, len(OUR_LEAVES) + 1)],
                        "desc": "the RFC 6962 reference leaves and five more; roots for sizes 1 to 13"},
    }
    for index, size in OUR_INCLUSION:
        cases[f"inclusion/{index}-of-{size}.json"] = {
            "leafIdx": index, "treeSize": size, "root": _b64(root_from_nodes(size, stored)),
            "leafHash": _b64(leaf_hash(OUR_LEAVES[index])),
            "proof": [_b64(h) for h in inclusion_proof(index, size, stored)],
            "desc": f"leaf {index} in a tree of {size}", "wantErr": False}
    for size1, size2 in OUR_CONSISTENCY:
        cases[f"consistency/{size1}-to-{size2}.json"] = {
            "size1": size1, "size2": size2, "root1": _b64(root_from_nodes(size1, stored)),
            "root2": _b64(root_from_nodes(size2, stored)),
            "proof": [_b64(h) for h in consistency_proof(size1, size2, stored)],
            "desc": f"a tree of {size2} extends its first {size1} leaves", "wantErr": False}
    return cases


def _render(case: dict) -> str:
    return json.dumps(case, indent=2) + "\n"


def test_the_committed_vectors_are_what_the_generator_makes():
    committed = {str(p.relative_to(OURS)): p.read_text() for p in _files(OURS)}
    assert committed == {name: _render(case) for name, case in generate().items()}


def test_our_leaves_file_starts_with_the_reference_roots():
    leaves = json.loads((OURS / "leaves.json").read_text())
    assert [_unb64(r).hex() for r in leaves["roots"][:8]] == REFERENCE_ROOTS


@pytest.mark.parametrize("path", [p for p in _files(OURS) if p.name != "leaves.json"], ids=_id(OURS))
def test_our_vector_verifies_and_its_mutations_are_refused(path: Path):
    case = json.loads(path.read_text())
    run_case(case)
    mutations: list[dict] = []
    proof = case["proof"]
    for position in range(len(proof)):
        flipped = bytearray(_unb64(proof[position]))
        flipped[position % 32] ^= 0x10
        mutations.append({**case, "proof": proof[:position] + [_b64(bytes(flipped))] + proof[position + 1:]})
    if proof:
        mutations += [{**case, "proof": proof[:-1]}, {**case, "proof": proof[1:]}]
    mutations += [{**case, "proof": proof + [proof[0] if proof else _b64(bytes(32))]},
                  {**case, "proof": [""] + proof}]
    if "leafIdx" in case:
        # (a size off by one can have the same audit path, so, as in the public vectors, it is doubled)
        mutations += [{**case, "leafIdx": case["leafIdx"] ^ 1}, {**case, "treeSize": case["treeSize"] * 2},
                      {**case, "root": _b64(bytes(32))}, {**case, "leafHash": case["root"]},
                      {**case, "leafIdx": case["treeSize"]}]
    else:
        mutations += [{**case, "root1": case["root2"], "root2": case["root1"]} if case["root1"] != case["root2"]
                      else {**case, "root2": _b64(bytes(32))},
                      {**case, "size2": case["size2"] * 2}, {**case, "size1": case["size1"] - 1},
                      {**case, "size1": case["size1"] + 1},
                      {**case, "root1": _b64(bytes(32))}, {**case, "root2": _b64(bytes(32))},
                      {**case, "size1": case["size2"] + 1}]
    for mutated in mutations:
        if mutated == case:
            continue
        with pytest.raises(ProofError):
            run_case(mutated)


if __name__ == "__main__":  # regenerate the project's vectors
    for name, case in generate().items():
        target = OURS / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_render(case))
