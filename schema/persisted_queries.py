"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list mode.

A request may name its document by hash instead of sending it:
`extensions.persistedQuery = {"version": 1, "sha256Hash": <sha256 of the query, hex>}`.
`PersistedQueries.resolve` turns a request's query and extensions into the text to run,
or a refusal; the HTTP view (POST and GET) and the websocket handler call it, so the same
rules hold on every transport. The document then runs like any other: the schema's limits
(`schema.limits`) apply to it.

Modes (`CARBON_PERSISTED_QUERIES`):

- `automatic` (default): a known hash runs its document; an unknown one is answered
  `PersistedQueryNotFound` (HTTP 200, code PERSISTED_QUERY_NOT_FOUND), and the client sends
  the query with its hash, which registers it (once the hash matches and the document
  passes the limits, if it is at most `CARBON_PERSISTED_QUERY_MAX_BYTES` long). Registered
  documents live in Redis for `CARBON_PERSISTED_QUERY_TTL_SECONDS`; the manifest's are
  always known.
- `allowlist`: only the manifest's operations run (`CARBON_PERSISTED_QUERY_MANIFEST`, by
  default the client contract's, `schema/persisted-query-manifest.json`); any other hash or
  query text is refused with PERSISTED_QUERY_NOT_ALLOWED and nothing is registered.
- `off`: a persistedQuery extension is answered `PersistedQueryNotSupported` (Apollo's
  clients then send the query text every time).

The operators' console runs the schema in process, not through these transports: its
operations are the server's own, and run in every mode.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import graphql
from redis.exceptions import RedisError

from app.i18n.messages import _
from app.settings import Settings
from schema.limits import DocumentChecker
from schema.permissions import Public
from schema.query_manifest import DEFAULT_MANIFEST, document_hash, load_manifest

log = logging.getLogger("carbon_planet.persisted_queries")

KEY_PREFIX = "apq:"
HASH = re.compile(r"[0-9a-f]{64}")
# Apollo's clients recognise these two answers by their message: protocol words, not prose.
NOT_FOUND = "PersistedQueryNotFound"
NOT_SUPPORTED = "PersistedQueryNotSupported"


class PersistedQueryMode(StrEnum):
    OFF = "off"
    AUTOMATIC = "automatic"
    ALLOWLIST = "allowlist"


@dataclass(frozen=True)
class Refusal:
    """A request answered without running: HTTP status, error code and message."""

    status: int
    code: str
    message: str

    def error(self) -> graphql.GraphQLError:
        return graphql.GraphQLError(self.message, extensions={"code": self.code})


class PersistedQueryRefused(Exception):
    """Raised by the HTTP view for a refusal answered with a status other than 200."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class Resolved:
    """What to run: `query` (None when the request sent none and named no document), and
    `hash` when the request named its document by hash; or the `refusal` that answers it."""

    query: str | None = None
    hash: str | None = None
    refusal: Refusal | None = None


def _persisted_query(extensions: Any) -> dict | None:
    if not isinstance(extensions, dict):
        return None
    value = extensions.get("persistedQuery")
    return value if value is not None else None


class PersistedQueries:
    def __init__(self, mode: PersistedQueryMode, manifest: dict[str, str],
                 checker: DocumentChecker, *, ttl_seconds: int, max_bytes: int,
                 public_max_age: int) -> None:
        self.mode = mode
        self.manifest = manifest  # hash -> document
        self.checker = checker
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self.public_max_age = public_max_age
        self._public = functools.lru_cache(maxsize=1024)(self._is_public)

    @classmethod
    def from_settings(cls, settings: Settings, schema: Any) -> PersistedQueries:
        """Raises ManifestError when the allow-list mode has no manifest to read."""
        mode = PersistedQueryMode(settings.persisted_queries)
        path = Path(settings.persisted_query_manifest or DEFAULT_MANIFEST)
        manifest: dict[str, str] = {}
        if mode is not PersistedQueryMode.OFF and (
                mode is PersistedQueryMode.ALLOWLIST or path.exists()):
            manifest = {id_: op.body for id_, op in load_manifest(path).items()}
        return cls(mode, manifest, DocumentChecker(schema._schema, schema.limits),
                   ttl_seconds=settings.persisted_query_ttl_seconds,
                   max_bytes=settings.persisted_query_max_bytes,
                   public_max_age=settings.persisted_query_public_max_age)

    async def resolve(self, query: Any, extensions: Any, redis: Any) -> Resolved:
        """The document a request runs, registering it in automatic mode, or its refusal.
        A `query` that is not text is left for the transport to refuse as it does today."""
        persisted = _persisted_query(extensions)
        if persisted is None:
            if self.mode is PersistedQueryMode.ALLOWLIST and isinstance(query, str) \
                    and document_hash(query) not in self.manifest:
                return Resolved(refusal=self._not_allowed())
            return Resolved(query)
        if self.mode is PersistedQueryMode.OFF:
            return Resolved(refusal=Refusal(200, "PERSISTED_QUERY_NOT_SUPPORTED", NOT_SUPPORTED))
        sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(persisted, dict) or persisted.get("version") != 1 \
                or not isinstance(sha, str) or not HASH.fullmatch(sha.lower()):
            return Resolved(refusal=Refusal(400, "PERSISTED_QUERY_INVALID", _(
                'extensions.persistedQuery must hold "version": 1 and "sha256Hash", the '
                "query's SHA-256 as 64 hexadecimal digits.")))
        sha = sha.lower()
        if isinstance(query, str):
            if document_hash(query) != sha:
                return Resolved(refusal=Refusal(400, "PERSISTED_QUERY_HASH_MISMATCH", _(
                    "The query's SHA-256 is not the persistedQuery sha256Hash sent with it.")))
            if sha in self.manifest:
                return Resolved(query, sha)
            if self.mode is PersistedQueryMode.ALLOWLIST:
                return Resolved(refusal=self._not_allowed())
            await self._register(sha, query, redis)
            return Resolved(query, sha)
        if sha in self.manifest:
            return Resolved(self.manifest[sha], sha)
        if self.mode is PersistedQueryMode.ALLOWLIST:
            return Resolved(refusal=self._not_allowed())
        stored = await self._lookup(sha, redis)
        if stored is None:
            return Resolved(refusal=Refusal(200, "PERSISTED_QUERY_NOT_FOUND", NOT_FOUND))
        return Resolved(stored, sha)

    @staticmethod
    def _not_allowed() -> Refusal:
        return Refusal(400, "PERSISTED_QUERY_NOT_ALLOWED", _(
            "This server runs only its registered operations: send the operation's "
            "persistedQuery sha256Hash from the operation manifest."))

    async def _register(self, sha: str, query: str, redis: Any) -> None:
        """Stores a document that fits the size bound and passes the limits; one that does
        not still runs (and is refused by the limits as any query is), but is not kept."""
        if len(query.encode()) > self.max_bytes or self.checker.prepare(query).errors:
            return
        try:
            await redis.set(KEY_PREFIX + sha, query, ex=self.ttl_seconds)
        except (RedisError, OSError) as error:  # not kept: the client sends it again
            log.warning("persisted query not stored: %s", error)

    @staticmethod
    async def _lookup(sha: str, redis: Any) -> str | None:
        try:
            return await redis.get(KEY_PREFIX + sha)
        except (RedisError, OSError) as error:  # answered as unknown: the client sends the text
            log.warning("persisted query not read: %s", error)
            return None

    def cache_control(self, resolved: Resolved, operation_name: str | None,
                      authorization: str | None, ok: bool) -> str:
        """Cache-Control for a GET answer of a document named by hash: shared caches may
        keep it when nobody logged in asked, it ran without errors and every root field it
        selects is public (the same answer for everyone in one language); else private."""
        if resolved.query is not None and ok and not authorization and self.public_max_age \
                and self._public(resolved.query, operation_name):
            return f"public, max-age={self.public_max_age}"
        return "private, no-store"

    def _is_public(self, query: str, operation_name: str | None) -> bool:
        document = self.checker.prepare(query).document
        if document is None:
            return False
        operation = graphql.get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not graphql.OperationType.QUERY:
            return False
        query_type = self.checker.schema.query_type
        for selection in operation.selection_set.selections:
            if not isinstance(selection, graphql.FieldNode):
                return False  # fragments at the root: not worth reading through
            name = selection.name.value
            if name == "__typename":
                continue
            field = query_type.fields.get(name) if query_type else None
            definition = getattr(field, "extensions", {}).get("strawberry-definition") \
                if field else None
            if definition is None or not any(issubclass(p, Public)
                                             for p in definition.permission_classes):
                return False
        return True
