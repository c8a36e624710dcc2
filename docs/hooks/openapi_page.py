"""mkdocs hook: partners/api.md shows `partners/openapi.yaml` as Markdown tables and
examples, rendered when the site is built (no script or stylesheet from elsewhere)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import yaml
from marker_page import fill_marker

MARKER = "<!-- openapi -->"
PAGE = "partners/api.md"
SPEC = Path(__file__).resolve().parents[1] / "partners" / "openapi.yaml"

log = logging.getLogger("mkdocs.hooks.openapi_page")


def cell(text: object) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def type_of(schema: dict) -> str:
    if name := ref_name(schema):
        return f"[{name}](#{name.lower()})"
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if isinstance(kind, list):
        kind = " or ".join(kind)
    extra = [f"`{schema['format']}`"] if "format" in schema else []
    if "enum" in schema:
        extra.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    for key, word in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"),
                      ("maxLength", "length ≤")):
        if key in schema:
            extra.append(f"{word} {schema[key]}")
    if "pattern" in schema:
        extra.append(f"matches `{schema['pattern']}`")
    return kind + (f" ({'; '.join(extra)})" if extra else "")


def example_block(value: object) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```\n"


def operation(path: str, method: str, op: dict) -> str:
    out = [f"## `{method.upper()} {path}`\n\n**{op.get('summary', '')}.** {op.get('description', '')}\n"]
    params = op.get("parameters", [])
    if params:
        out.append("### Headers\n\n| Header | Required | Format | Meaning |\n|---|---|---|---|\n")
        out.extend(f"| `{p['name']}` | {'yes' if p.get('required') else 'no'} | "
                   f"{type_of(p.get('schema', {}))} | {cell(p.get('description'))} |\n"
                   for p in params)
        out.append("\n")
    body = op.get("requestBody", {})
    for media, content in body.get("content", {}).items():
        out.append(f"### Request body (`{media}`)\n\n{type_of(content['schema'])}. "
                   f"{body.get('description', '')}\n\n")
        for name, example in content.get("examples", {}).items():
            out.append(f"**Example `{name}`**: {example.get('summary', '')}\n\n"
                       + example_block(example["value"]) + "\n")
    out.append("### Responses\n\n")
    for status, response in op.get("responses", {}).items():
        out.append(f"#### {status}\n\n{response.get('description', '')}\n\n")
        for header, spec in response.get("headers", {}).items():
            out.append(f"Header `{header}`: {cell(spec.get('description'))}\n\n")
        for media, content in response.get("content", {}).items():
            out.append(f"`{media}`: {type_of(content['schema'])}.\n\n")
            for name, example in content.get("examples", {}).items():
                out.append(f"**Example `{name}`**{': ' + example['summary'] if 'summary' in example else ''}\n\n"
                           + example_block(example["value"]) + "\n")
    return "".join(out)


def schema_section(name: str, schema: dict) -> str:
    out = [f"### {name} {{ #{name.lower()} }}\n\n{cell(schema.get('description'))}\n\n"]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        out.append("| Field | Type | Required | Meaning |\n|---|---|---|---|\n")
        out.extend(f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | "
                   f"{cell(spec.get('description'))} |\n" for field, spec in properties.items())
        out.append("\n")
    return "".join(out)


def render(spec: dict) -> str:
    out = [f"*{spec['info']['title']}, OpenAPI {spec['openapi']}.*\n\n"]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out.append(operation(path, method, op))
    out.append("## Schemas\n\n")
    out.extend(schema_section(name, schema)
               for name, schema in spec.get("components", {}).get("schemas", {}).items())
    return "".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return fill_marker(markdown, page, source=PAGE, marker=MARKER, log=log,
                       render=lambda: render(yaml.safe_load(SPEC.read_text("utf-8"))))
