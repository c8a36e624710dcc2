"""The client contract: copied operation files validate against the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate

from schema import build_schema

CONTRACT = Path(__file__).parent / "contract"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "contract"
# Every operation file of the contract (a new one is added here when the schema serves it).
COVERED = ["auth.graphql", "credits.graphql", "game.graphql", "shop.graphql"]


@pytest.mark.parametrize("name", COVERED)
def test_contract_operations_validate(settings, name):
    schema = build_schema(settings)
    document = parse((CONTRACT / name).read_text())
    errors = validate(schema._schema, document)
    assert errors == [], [e.message for e in errors]
    assert len(document.definitions) >= 1


def test_uncovered_files_are_tracked():
    all_files = sorted(p.name for p in CONTRACT.glob("*.graphql"))
    assert set(COVERED) <= set(all_files)
    assert "credits.graphql" in all_files and "shop.graphql" in all_files


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/contract is only beside a team checkout")
def test_copies_match_the_shared_contract():
    shared = sorted(p.name for p in SHARED.iterdir() if p.is_file())
    ours = sorted(p.name for p in CONTRACT.iterdir() if p.is_file())
    assert ours == shared
    for name in shared:
        assert (CONTRACT / name).read_bytes() == (SHARED / name).read_bytes(), name
