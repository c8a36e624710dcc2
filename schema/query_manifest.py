"""Persisted-query manifests in Apollo's format, the list of operations a client ships:

    {"format": "apollo-persisted-query-manifest", "version": 1,
     "operations": [{"id": <sha256 of body, hex>, "name": "Planet", "type": "query",
                     "body": "query Planet { … }"}]}

`build_manifest` makes one from `.graphql` files (the client contract in tests/contract):
each named operation, with the fragments it spreads, printed by graphql-core's printer (the
text graphql-js `print` gives for the same document). `load_manifest` reads one back, checking
that every id is its body's hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import graphql

FORMAT = "apollo-persisted-query-manifest"
VERSION = 1
DEFAULT_MANIFEST = Path(__file__).parent / "persisted-query-manifest.json"


class ManifestError(ValueError):
    """A manifest or operation file that cannot be used (the message says why)."""


@dataclass(frozen=True)
class ManifestOperation:
    id: str
    name: str
    type: str  # query, mutation or subscription
    body: str


def document_hash(query: str) -> str:
    """The APQ hash of a query text: sha256 of its UTF-8 bytes, in lowercase hex."""
    return hashlib.sha256(query.encode()).hexdigest()


def _spread_fragments(node: graphql.Node, fragments: dict[str, graphql.FragmentDefinitionNode],
                      found: dict[str, graphql.FragmentDefinitionNode]) -> None:
    """Every fragment `node` spreads, directly or through other fragments, into `found`."""

    class Spreads(graphql.Visitor):
        def enter_fragment_spread(self, spread: graphql.FragmentSpreadNode, *_: object) -> None:
            name = spread.name.value
            if name not in found and name in fragments:
                found[name] = fragments[name]
                _spread_fragments(fragments[name], fragments, found)

    graphql.visit(node, Spreads())


def operations_of(source: str, origin: str) -> list[ManifestOperation]:
    """The named operations of one document, each printed with the fragments it uses."""
    try:
        document = graphql.parse(source)
    except graphql.GraphQLError as error:
        raise ManifestError(f"{origin}: {error.message}") from None
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, graphql.FragmentDefinitionNode)}
    operations = []
    for definition in document.definitions:
        if not isinstance(definition, graphql.OperationDefinitionNode):
            continue
        if definition.name is None:
            raise ManifestError(f"{origin}: every operation needs a name")
        used: dict[str, graphql.FragmentDefinitionNode] = {}
        _spread_fragments(definition, fragments, used)
        body = graphql.print_ast(graphql.DocumentNode(
            definitions=(definition, *(used[name] for name in sorted(used)))))
        operations.append(ManifestOperation(document_hash(body), definition.name.value,
                                            definition.operation.value, body))
    return operations


def build_manifest(files: Iterable[Path], schema: graphql.GraphQLSchema) -> dict:
    """The manifest of every operation in `files`, each validated against `schema`."""
    operations: list[ManifestOperation] = []
    names: set[str] = set()
    for path in files:
        for operation in operations_of(path.read_text(encoding="utf-8"), str(path)):
            if operation.name in names:
                raise ManifestError(f"{path}: a second operation named {operation.name}")
            errors = graphql.validate(schema, graphql.parse(operation.body))
            if errors:
                raise ManifestError(f"{path}: {operation.name}: {errors[0].message}")
            names.add(operation.name)
            operations.append(operation)
    return {"format": FORMAT, "version": VERSION,
            "operations": [asdict(operation) for operation in operations]}


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def load_manifest(path: Path) -> dict[str, ManifestOperation]:
    """The operations of a manifest file by id; ManifestError if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"{path}: {error.strerror}") from None
    except ValueError as error:
        raise ManifestError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or data.get("version") != VERSION or not isinstance(data.get("operations"), list):
        raise ManifestError(f"{path}: not an {FORMAT} of version {VERSION}")
    operations: dict[str, ManifestOperation] = {}
    for entry in data["operations"]:
        try:
            operation = ManifestOperation(**{key: entry[key] for key in
                                             ("id", "name", "type", "body")})
        except (KeyError, TypeError):
            raise ManifestError(f"{path}: each operation needs id, name, type and body") from None
        if not isinstance(operation.body, str) or document_hash(operation.body) != operation.id:
            raise ManifestError(f"{path}: {operation.name}: id is not the sha256 of its body")
        operations[operation.id] = operation
    return operations
