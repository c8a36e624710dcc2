"""No import cycles between the modules of app, game, methodology, schema and transparency.

The graph is grimp's (the library behind import-linter): every import statement in a
module counts, including imports inside functions and under `if TYPE_CHECKING:`. A
cycle is therefore fixed by moving what both modules need into a third one, or by
registration (see app.payouts.outbox), not by hiding an import inside a function.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("app", "game", "methodology", "schema", "transparency")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle through each direct import that closes one, shortest first."""
    found: dict[frozenset[str], list[str]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.setdefault(frozenset(back), [importer, *back])
    return sorted(found.values(), key=len)


def test_no_module_imports_itself_through_others(graph):
    assert len(graph.modules) > 100  # the packages were found and read
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_imports_inside_functions_and_for_type_checking_count(tmp_path, monkeypatch):
    package = tmp_path / "looped"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from looped import b\n    return b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from looped import a\n")
    (package / "c.py").write_text("from looped import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("looped", cache_dir=None)) == [["looped.a", "looped.b", "looped.a"]]


def test_a_cycle_is_found_and_shown_as_a_path():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph.add_import(importer="methodology.model", imported="methodology.public")
    assert cycles(graph) == [["methodology.model", "methodology.public", "methodology.model"]]
