"""The log over plain HTTP, for anyone (no login): the latest checkpoint, inclusion and
consistency proofs, and leaves for auditors. Refusals are JSON
`{"error": <message>, "code": <ErrorCode>, "field": <parameter>}`: 400 for bad input,
404 for a size never published, 503 (with Retry-After) before the first checkpoint."""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.errors import ErrorCode, ServiceError, invalid
from app.i18n.messages import N_
from app.transparency import proofs

STATUS = {ErrorCode.INVALID_INPUT: 400, ErrorCode.NOT_FOUND: 404, ErrorCode.NOT_AVAILABLE: 503}
IMMUTABLE = {"Cache-Control": "public, max-age=86400, immutable"}  # proofs between published sizes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def refusal(exc: ServiceError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds else None
    return JSONResponse({"error": exc.message, "code": exc.code.value, "field": exc.field},
                        status_code=STATUS.get(exc.code, 400), headers=headers)


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise invalid(name, N_("%(field)s must be a whole number from 0 to %(max)s.", field=name,
                               max=proofs.MAX_SIZE))
    return int(raw)


async def checkpoint(_: Request) -> Response:
    try:
        latest = await proofs.latest_checkpoint()
    except ServiceError as exc:
        return refusal(exc)
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-cache"})


async def consistency_proof(request: Request) -> Response:
    try:
        first, second = _int_param(request, "from"), _int_param(request, "to")
        proof = await proofs.consistency(first, second)
    except ServiceError as exc:
        return refusal(exc)
    return JSONResponse({"from": first, "to": second, "proof": [b64(h) for h in proof]}, headers=IMMUTABLE)


async def inclusion_proof(request: Request) -> Response:
    try:
        index, size = _int_param(request, "index"), _int_param(request, "size")
        proof = await proofs.inclusion(index, size)
    except ServiceError as exc:
        return refusal(exc)
    return JSONResponse({"index": index, "size": size, "proof": [b64(h) for h in proof]})


async def leaves(request: Request) -> Response:
    try:
        entries = await proofs.leaf_range(_int_param(request, "start"), _int_param(request, "end"))
    except ServiceError as exc:
        return refusal(exc)
    return JSONResponse({"leaves": [{"index": e.index, "leaf": b64(e.leaf), "leafHash": b64(e.leaf_hash)}
                                    for e in entries]})


def log_routes() -> list[Route]:
    return [
        Route("/log/checkpoint", checkpoint, methods=["GET"]),
        Route("/log/proof/consistency", consistency_proof, methods=["GET"]),
        Route("/log/proof/inclusion", inclusion_proof, methods=["GET"]),
        Route("/log/leaves", leaves, methods=["GET"]),
    ]
