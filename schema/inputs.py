"""The boundary check on text input: every string an operation carries, in its document or
in its variables, before any resolver runs (`schema.limits` applies it with the other
document checks, and remembers each document's strings with its parse).

A string is refused (the operation does not run; error `INVALID_INPUT` with `field`) when
`app.text` refuses it: a control character (tab, CR and LF are allowed only in the
multi-line texts named in `MULTILINE`: notes, reasons, descriptions, a rules file), an
unpaired surrogate, or more characters than `MAX_CHARS` gives its argument or input field
name (`DEFAULT_MAX_CHARS` for any other).

Every string argument and input field is covered, whatever its type (String, ID, Date,
DateTime) and however deeply it sits in input objects and lists, so a new argument is
bounded the day it is added; the services keep their own, finer rules (a phone number's
format, a nickname's length, a URL's scheme).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphql
from graphql import GraphQLError

from app import text
from app.i18n.messages import LazyMessage, Text, _

# A safety net under the services' own, finer checks (which answer in the mutation's
# payload): generous by default, tight where a filter meets a short database column
# without a service in between.
DEFAULT_MAX_CHARS = 1000

MAX_CHARS = {
    "content": 262_144,  # a rules file
    "token": 8_192,  # a host app's JWT
    "description": 2_000,
    "descriptionEn": 2_000,
    "note": 500,
    "partnerId": 60,
    "targetId": 80,
    "targetType": 40,
    "status": 20,
}

MULTILINE = frozenset({"content", "description", "descriptionEn", "note", "reason"})


def text_problem(name: str, value: str) -> LazyMessage | None:
    """Why `value`, given for the argument or input field `name`, is refused (or None)."""
    return text.text_problem(name, value, max_chars=MAX_CHARS.get(name, DEFAULT_MAX_CHARS),
                             multiline=name in MULTILINE)


def refusal(path: str, problem: Text) -> GraphQLError:
    """`path`: the argument, then input fields, dotted (`input.nickname`)."""
    return GraphQLError(str(problem), extensions={"code": "INVALID_INPUT", "field": path})


def _last(path: str) -> str:
    return path.rsplit(".", 1)[-1]


@dataclass
class DocumentStrings:
    """What the check needs from a document: the first bad string literal, if any, and for
    each variable the paths (argument, then input fields) it is used at."""

    problem: GraphQLError | None = None
    variable_names: dict[str, set[str]] = field(default_factory=dict)


class _Collector(graphql.Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = DocumentStrings()
        self.defaults: list[tuple[str, graphql.ValueNode]] = []

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        self.value(node.name.value, node.value)
        return graphql.SKIP

    def enter_variable_definition(self, node: graphql.VariableDefinitionNode, *_: Any) -> Any:
        if node.default_value is not None:
            self.defaults.append((node.variable.name.value, node.default_value))
        return graphql.SKIP

    def value(self, path: str, node: graphql.ValueNode) -> None:
        if self.found.problem is not None:
            return
        if isinstance(node, graphql.StringValueNode):
            problem = text_problem(_last(path), node.value)
            if problem:
                self.found.problem = refusal(path, problem)
        elif isinstance(node, graphql.ListValueNode):
            for item in node.values:
                self.value(path, item)
        elif isinstance(node, graphql.ObjectValueNode):
            for object_field in node.fields:
                self.value(f"{path}.{object_field.name.value}", object_field.value)
        elif isinstance(node, graphql.VariableNode):
            self.found.variable_names.setdefault(node.name.value, set()).add(path)


def document_strings(document: graphql.DocumentNode) -> DocumentStrings:
    collector = _Collector()
    graphql.visit(document, collector)
    for variable, default in collector.defaults:
        for path in collector.found.variable_names.get(variable, {variable}):
            collector.value(path, default)
    return collector.found


def value_problem(path: str, value: Any, depth: int = 0) -> GraphQLError | None:
    """The first refused string in a variable's JSON value (keys of input objects too)."""
    if isinstance(value, str):
        problem = text_problem(_last(path), value)
        return refusal(path, problem) if problem else None
    if depth > 32:  # JSON nesting no input type of ours needs
        return refusal(path, _("%(path)s is nested too deeply.", path=path))
    if isinstance(value, list):
        for item in value:
            if found := value_problem(path, item, depth + 1):
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or text_problem("name", key):
                return refusal(path, _("%(path)s has a key that is not a valid field name.",
                                       path=path))
            if found := value_problem(f"{path}.{key}", item, depth + 1):
                return found
    return None


def operation_text_problem(strings: DocumentStrings,
                           variables: dict[str, Any] | None) -> GraphQLError | None:
    """The first refused string of an operation: in its document, then in the variables
    it uses (the others reach no resolver)."""
    if strings.problem is not None:
        return strings.problem
    variables = variables or {}
    for variable, paths in strings.variable_names.items():
        if variable in variables:
            for path in paths:
                if found := value_problem(path, variables[variable]):
                    return found
    return None
