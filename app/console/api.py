"""The console's way to the GraphQL API: the schema run in process, with the console
user's access token, exactly as a mobile client's request would run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from schema.context import Context


@dataclass
class ApiResult:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)  # GraphQL errors, as JSON

    @property
    def error_code(self) -> str | None:
        return self.errors[0].get("extensions", {}).get("code") if self.errors else None


class ConsoleApi:
    def __init__(self, request: Request, access_token: str | None) -> None:
        self.request = request
        self.access_token = access_token

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> ApiResult:
        schema = self.request.app.state.schema
        context = Context(request=self.request, response=None,
                          services=self.request.app.state.services,
                          authorization=f"Bearer {self.access_token}" if self.access_token else "")
        result = await schema.execute(query, variable_values=variables, context_value=context)
        errors = [dict(e.formatted) for e in result.errors or []]
        return ApiResult(result.data, errors)
