"""mkdocs hook: the GraphQL API reference, one page per kind, from the committed SDL.

Reads `schema.graphql` at the repository root (`carbon-planet schema export` writes it);
`CARBON_DOCS_SCHEMA` names another file. When neither exists, the SDL is printed from the
live schema, so the reference always describes the code it was built with.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_named_type,
)
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.graphql_reference")

ROOT = Path(__file__).resolve().parents[2]
PAGE_DIR = "clients/api"


@dataclass(frozen=True)
class Page:
    """One generated page: its file name, title and the text above its entries."""

    name: str
    title: str
    intro: str


PAGES = {
    "queries": Page("queries", "Queries", "Every field of the root `Query` type."),
    "mutations": Page("mutations", "Mutations",
                      "Every field of the root `Mutation` type. Each returns a payload with "
                      "`errors: [UserError!]!`; an empty list means success."),
    "subscriptions": Page("subscriptions", "Subscriptions",
                          "Every field of the root `Subscription` type, sent over "
                          "`graphql-transport-ws` (see [Websockets](../websocket.md))."),
    "types": Page("types", "Types", "Object types, interfaces, unions and scalars."),
    "enums": Page("enums", "Enums", "Every enum and its values."),
    "inputs": Page("inputs", "Inputs", "Every input object type and its fields."),
}


def sdl_path() -> Path:
    return Path(os.environ.get("CARBON_DOCS_SCHEMA") or ROOT / "schema.graphql")


def load_sdl() -> str:
    path = sdl_path()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    log.info("%s not found: printing the SDL from the live schema", path)
    import sys
    sys.path.insert(0, str(ROOT))
    from app.settings import Settings
    from schema import build_schema as build_live_schema
    return build_live_schema(Settings()).as_str()


def page_of(named: GraphQLNamedType) -> str:
    if isinstance(named, GraphQLEnumType):
        return "enums"
    if isinstance(named, GraphQLInputObjectType):
        return "inputs"
    return "types"


def anchor(name: str) -> str:
    return name.lower()


def type_link(type_, here: str) -> str:
    """`[Name!]!` with the named type linked to its entry."""
    named = get_named_type(type_)
    shown = str(type_)
    if named.name in {"String", "Int", "Float", "Boolean", "ID"}:
        return f"`{shown}`"
    target = page_of(named)
    href = f"#{anchor(named.name)}" if target == here else f"{target}.md#{anchor(named.name)}"
    return f"[`{shown}`]({href})"


def text(description: str | None) -> str:
    """A description as Markdown text: angle brackets outside code shown as written."""
    parts = (description or "").strip().split("`")
    return "`".join(part if n % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
                    for n, part in enumerate(parts))


def cell(description: str | None) -> str:
    return " ".join(text(description).split()).replace("|", "\\|")


def deprecation(reason: str | None) -> str:
    return f'!!! warning "Deprecated"\n    {cell(reason)}\n\n' if reason else ""


def field_entry(name: str, field: GraphQLField, here: str, level: str = "##") -> str:
    args = "".join(
        f"| `{arg_name}` | {type_link(arg.type, here)} | {default_text(arg)} | "
        f"{cell(arg.description)}{deprecated_cell(arg.deprecation_reason)} |\n"
        for arg_name, arg in field.args.items())
    out = [f"{level} {name} {{ #{anchor(name)} }}\n\n",
           f"Returns {type_link(field.type, here)}.\n\n"]
    if field.description:
        out.append(text(field.description) + "\n\n")
    out.append(deprecation(field.deprecation_reason))
    if args:
        out.append("| Argument | Type | Default | Description |\n|---|---|---|---|\n" + args + "\n")
    return "".join(out)


def default_text(arg: GraphQLArgument | GraphQLInputField) -> str:
    node = arg.ast_node
    if node is not None and node.default_value is not None:
        from graphql import print_ast
        return f"`{print_ast(node.default_value)}`"
    return ""


def deprecated_cell(reason: str | None) -> str:
    return f" **Deprecated:** {cell(reason)}" if reason else ""


def fields_table(fields: dict, here: str, kind: str) -> str:
    if not fields:
        return ""
    rows = []
    for name, field in fields.items():
        args = ", ".join(f"{a}: {t.type}" for a, t in getattr(field, "args", {}).items())
        shown = f"`{name}({args})`" if args else f"`{name}`"
        default = default_text(field) if kind == "Input field" else ""
        rows.append(f"| {shown} | {type_link(field.type, here)} | "
                    f"{cell(field.description)}{' Default ' + default + '.' if default else ''}"
                    f"{deprecated_cell(field.deprecation_reason)} |")
    return f"| {kind} | Type | Description |\n|---|---|---|\n" + "\n".join(rows) + "\n\n"


def type_entry(named: GraphQLNamedType, here: str) -> str:
    out = [f"## {named.name} {{ #{anchor(named.name)} }}\n\n"]
    if isinstance(named, GraphQLObjectType) and named.interfaces:
        out.append("Implements " + ", ".join(type_link(i, here) for i in named.interfaces)
                   + ".\n\n")
    kind = {GraphQLObjectType: "Object type", GraphQLInterfaceType: "Interface",
            GraphQLUnionType: "Union", GraphQLScalarType: "Scalar",
            GraphQLEnumType: "Enum", GraphQLInputObjectType: "Input"}[type(named)]
    out.append(f"*{kind}.*")
    if named.description:
        out.append(" " + text(named.description))
    out.append("\n\n")
    if isinstance(named, GraphQLUnionType):
        out.append("One of " + ", ".join(type_link(t, here) for t in named.types) + ".\n\n")
    if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        out.append(fields_table(named.fields, here, "Field"))
    if isinstance(named, GraphQLInputObjectType):
        out.append(fields_table(named.fields, here, "Input field"))
    if isinstance(named, GraphQLEnumType):
        out.append("| Value | Description |\n|---|---|\n" + "".join(
            f"| `{value_name}` | {cell(value.description)}"
            f"{deprecated_cell(value.deprecation_reason)} |\n"
            for value_name, value in named.values.items()) + "\n")
    return "".join(out)


def render(schema: GraphQLSchema) -> dict[str, str]:
    """Markdown per page name."""
    roots = {"queries": schema.query_type, "mutations": schema.mutation_type,
             "subscriptions": schema.subscription_type}
    bodies: dict[str, list[str]] = {name: [] for name in PAGES}
    for page, root in roots.items():
        if root is None:
            bodies[page].append("The schema has none.\n")
            continue
        for name in sorted(root.fields):
            bodies[page].append(field_entry(name, root.fields[name], page))
    root_names = {t.name for t in roots.values() if t is not None}
    for name in sorted(schema.type_map):
        named = schema.type_map[name]
        if name.startswith("__") or name in root_names or name in {
                "String", "Int", "Float", "Boolean", "ID"}:
            continue
        bodies[page_of(named)].append(type_entry(named, page_of(named)))
    return {name: (f"# {page.title}\n\n{page.intro} Generated from `schema.graphql` when the "
                   f"site is built.\n\n" + "".join(bodies[name]))
            for name, page in PAGES.items()}


def on_files(files: Files, config) -> Files:
    schema = build_schema(load_sdl())
    for name, text in render(schema).items():
        files.append(File.generated(config, f"{PAGE_DIR}/{name}.md", content=text))
    return files
