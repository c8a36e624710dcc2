"""Metrics, tracing and logs, through the app's HTTP interface: per-operation GraphQL
metrics, business metrics, /metrics options, OpenTelemetry spans and the JSON log."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
import warnings
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.clock import utcnow
from app.metrics_exposition import start_metrics_server
from app.observability import configure_logging
from app.payouts.models import Payout, PayoutStatus
from app.rulesets.models import RuleSet
from app.rulesets.service import checksum
from app.server import ConfigurationError, create_app
from app.settings import Settings
from game.rules import RULES_FILE
from schema import operation_metrics
from tests.conftest import ENGLISH
from tests.partner_client import send, trip
from tests.test_server_process import free_port

METRICS_PORT = free_port()
OTLP_PORT = free_port()


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return samples(response.text)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(figures: dict, name: str, **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


def operations(figures: dict, operation: str, kind: str) -> float:
    return value(figures, "carbon_graphql_operation_duration_seconds_count",
                 operation=operation, type=kind)


def errors(figures: dict, operation: str, code: str, source: str = "graphql") -> float:
    return value(figures, "carbon_graphql_operation_errors_total",
                 operation=operation, code=code, source=source)


async def post(client: httpx.AsyncClient, query: str, **extra) -> dict:
    return (await client.post("/graphql", json={"query": query, **extra})).json()


# ---------------------------------------------------------------- GraphQL operations


async def test_operations_are_counted_by_the_name_and_type_the_document_gives(client):
    before = await scrape(client)
    for _ in range(3):
        assert (await post(client, "query ObsPing { __typename }"))["data"]
    await post(client, "{ __typename }")
    await post(client, "mutation ObsRequestCode { requestLoginCode(phone: \"12\") "
                       "{ errors { code } } }")
    after = await scrape(client)
    assert operations(after, "ObsPing", "query") - operations(before, "ObsPing", "query") == 3
    assert operations(after, "unnamed", "query") - operations(before, "unnamed", "query") == 1
    assert (operations(after, "ObsRequestCode", "mutation")
            - operations(before, "ObsRequestCode", "mutation")) == 1
    # the refused phone is a payload UserError, counted by its code
    assert (errors(after, "ObsRequestCode", "INVALID_INPUT", "payload")
            - errors(before, "ObsRequestCode", "INVALID_INPUT", "payload")) == 1
    sums = value(after, "carbon_graphql_operation_duration_seconds_sum",
                 operation="ObsPing", type="query")
    assert sums > 0


async def test_errors_are_counted_by_code_and_client_text_is_no_label(client):
    before = await scrape(client)
    await post(client, "query ObsBroken {")  # parse error: no document, no name
    await post(client, "query ObsUnknownField { noSuchField }")
    # an operationName the document does not have: no operation ran, its text is no label
    await post(client, "query ObsReal { __typename }", operationName="Client free text")
    long_name = "Obs" + "x" * 80
    await post(client, f"query {long_name} {{ __typename }}")
    after = await scrape(client)
    assert errors(after, "unknown", "GRAPHQL_PARSE_FAILED") - errors(
        before, "unknown", "GRAPHQL_PARSE_FAILED") == 1
    assert errors(after, "ObsUnknownField", "GRAPHQL_VALIDATION_FAILED") == 1
    assert operations(after, "unknown", "unknown") - operations(before, "unknown", "unknown") == 2
    assert operations(after, "other", "query") - operations(before, "other", "query") == 1
    labels = {dict(key[1]).get("operation") for key in after}
    assert "Client free text" not in labels and long_name not in labels and "ObsReal" not in labels


async def test_operation_names_past_the_limit_are_grouped(client, monkeypatch):
    await post(client, "query ObsKnownBefore { __typename }")
    monkeypatch.setattr(operation_metrics, "MAX_OPERATION_NAMES",
                        len(operation_metrics._names_seen))
    before = await scrape(client)
    await post(client, "query ObsOneTooMany { __typename }")
    await post(client, "query ObsKnownBefore { __typename }")
    after = await scrape(client)
    assert operations(after, "other", "query") - operations(before, "other", "query") == 1
    assert operations(after, "ObsKnownBefore", "query") - operations(
        before, "ObsKnownBefore", "query") == 1
    assert operations(after, "ObsOneTooMany", "query") == 0


async def test_an_unexpected_error_counts_as_internal_error(app, client, gql, monkeypatch):
    token = (await gql.login())["accessToken"]

    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(app.state.services.leaderboards, "top", broken)
    before = await scrape(client)
    answer = (await client.post("/graphql", headers={"Authorization": f"Bearer {token}"}, json={
        "query": "query ObsBoard { leaderboard(scope: GLOBAL, period: ALL_TIME) "
                 "{ entries { rank } } }"})).json()
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    after = await scrape(client)
    assert errors(after, "ObsBoard", "INTERNAL_ERROR") - errors(
        before, "ObsBoard", "INTERNAL_ERROR") == 1


# ---------------------------------------------------------------- business metrics


async def test_partner_records_are_counted_by_outcome_and_reason(client, gql):
    player = (await gql.login())["player"]["id"]
    before = await scrape(client)
    response = await send(client, [trip("obs-1", player), trip("obs-2", "nobody-at-all"),
                                   trip("obs-3", player, kind="teleport"), "not a record"])
    assert [r["status"] for r in response.json()["results"]] == [
        "accepted", "rejected", "rejected", "rejected"]
    await send(client, [trip("obs-1", player)])  # sent again
    after = await scrape(client)

    def delta(status: str, reason: str = "") -> float:
        labels = {"partner": "metro-sz", "status": status, "reason": reason}
        return (value(after, "carbon_partner_records_total", **labels)
                - value(before, "carbon_partner_records_total", **labels))

    assert delta("accepted") == 1
    assert delta("rejected", "UNKNOWN_SUBJECT") == 1
    assert delta("rejected", "UNKNOWN_KIND") == 1
    assert delta("rejected", "INVALID_FIELD") == 1
    assert delta("duplicate") == 1


async def _payout(id_: str, status: PayoutStatus) -> None:
    await Payout.create(id=id_, purpose="order", reference=id_, recipient="player:x",
                        amount_fen=100, status=status.value, next_attempt_at=utcnow())


async def test_payout_gauges_are_read_from_the_database_between_scrapes(make_app):
    app = await make_app(metrics_refresh_seconds=0.05)
    for n in range(3):
        await _payout(f"order:obs-pending-{n}", PayoutStatus.PENDING)
    await _payout("order:obs-failed", PayoutStatus.FAILED)
    await _payout("order:obs-paid", PayoutStatus.PAID)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        deadline = datetime.now() + timedelta(seconds=10)
        while True:
            figures = await scrape(client)
            if value(figures, "carbon_payouts", status="PENDING") == 3 or datetime.now() > deadline:
                break
            await asyncio.sleep(0.05)
    assert value(figures, "carbon_payouts", status="PENDING") == 3
    assert value(figures, "carbon_payouts", status="FAILED") == 1
    assert ("carbon_payouts", frozenset({("status", "PAID")})) not in figures


@pytest.fixture
async def no_versions_left():
    """The next test's app reads the active rules before the tables are emptied."""
    yield
    await RuleSet.all().delete()


async def test_the_rules_version_live_is_a_gauge(app, client, no_versions_left):
    content = RULES_FILE.read_text()
    await RuleSet.create(version=7, content=content, checksum=checksum(content), author="t",
                         note="obs", effective_from=utcnow())
    assert await app.state.services.rules_provider.refresh()
    assert value(await scrape(client), "carbon_rules_version") == 7


# ---------------------------------------------------------------- /metrics options


async def test_metrics_can_require_a_bearer_token(make_app):
    app = await make_app(metrics_token="scrape-token-0123456789")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 401 and "carbon_" not in refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        figures = await scrape(client, Authorization="Bearer scrape-token-0123456789")
        assert any(name == "carbon_http_requests_total" for name, _ in figures)


async def test_metrics_on_a_port_of_their_own(make_app):
    app = await make_app(metrics_port=METRICS_PORT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        assert (await client.get("/metrics")).status_code == 404
        await post(client, "query ObsSeparatePort { __typename }")
    server = start_metrics_server("127.0.0.1", METRICS_PORT, token="port-token-0123456789")
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).status_code == 401
            answer = await http.get(url, headers={"Authorization": "Bearer port-token-0123456789"})
        assert answer.status_code == 200
        assert operations(samples(answer.text), "ObsSeparatePort", "query") >= 1
    finally:
        server.stop()


# ---------------------------------------------------------------- tracing


class Receiver:
    """A stand-in OTLP/HTTP collector: keeps the spans of every export it is sent."""

    def __init__(self, port: int) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        spans = self.spans = []
        paths = self.paths = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                paths.append(self.path)
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    stand_in = Receiver(OTLP_PORT)
    yield stand_in
    stand_in.close()


def attributes(span) -> dict:
    return {a.key: (a.value.string_value or a.value.int_value or [
        v.string_value for v in a.value.array_value.values]) for a in span.attributes}


async def test_spans_per_request_and_operation_reach_an_otlp_collector(make_app, receiver):
    app = await make_app(otlp_endpoint=f"http://127.0.0.1:{OTLP_PORT}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver", headers=ENGLISH) as client:
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        await client.post("/graphql", json={
            "query": 'mutation ObsTraced { requestLoginCode(phone: "+8613800009999") '
                     "{ errors { code } } }"},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        await client.get("/healthz")
    app.state.tracing.provider.force_flush()
    assert set(receiver.paths) == {"/v1/traces"}
    by_name = {span.name: span for span in receiver.spans}
    request, operation = by_name["POST /graphql"], by_name["mutation ObsTraced"]
    assert request.trace_id.hex() == trace_id  # the caller's trace continues
    assert operation.parent_span_id == request.span_id and operation.trace_id == request.trace_id
    assert attributes(request)["http.response.status_code"] == 200
    assert attributes(operation)["graphql.operation.name"] == "ObsTraced"
    resolver = by_name["GraphQL Resolving: requestLoginCode"]
    assert resolver.parent_span_id == operation.span_id
    assert "GET /healthz" in by_name
    # no document and no arguments: they may carry a phone number or a login code
    for span in receiver.spans:
        assert not any("8613800009999" in str(v) for v in attributes(span).values())
        assert "query" not in attributes(span)


async def test_no_spans_when_tracing_is_not_configured(make_app, receiver, monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    app = await make_app()
    assert app.state.tracing is None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        await post(client, "query ObsUntraced { __typename }")
    assert receiver.spans == [] and receiver.paths == []


def test_the_standard_otlp_variable_turns_tracing_on(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert Settings(_env_file=None).otlp_endpoint == "http://collector:4318"


def test_without_the_tracing_extra_the_app_starts_untraced_or_refuses_configured_tracing(
        settings, monkeypatch):
    for module in ("opentelemetry.sdk.trace", "opentelemetry.sdk.resources",
                   "opentelemetry.sdk.trace.export"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    assert create_app(settings).state.tracing is None
    with pytest.raises(ConfigurationError, match=r"carbon-planet\[tracing\]"):
        create_app(settings.model_copy(update={"otlp_endpoint": "http://127.0.0.1:4318"}))


# ---------------------------------------------------------------- logs


@pytest.fixture
def json_log(monkeypatch):
    """The server's JSON log, written into a buffer; the test's logging restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("INFO", json=True)
    yield buffer
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)


def log_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


async def test_log_times_are_iso_8601_with_their_zone(client, json_log):
    await client.get("/healthz")
    access = [r for r in log_lines(json_log) if r["logger"] == "carbon_planet.access"]
    assert access and access[-1]["path"] == "/healthz"
    stamp = access[-1]["time"]
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0) and stamp.endswith("+00:00")
    assert len(stamp) == len("2026-12-01T03:15:07.123+00:00")
    assert abs((parsed - utcnow()).total_seconds()) < 600


def test_python_warnings_go_to_the_json_log(json_log):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an obsolete setting was used", UserWarning, stacklevel=1)
    records = [r for r in log_lines(json_log) if r["logger"] == "py.warnings"]
    assert len(records) == 1
    assert records[0]["level"] == "WARNING"
    assert "UserWarning: an obsolete setting was used" in records[0]["message"]
    datetime.fromisoformat(records[0]["time"])
