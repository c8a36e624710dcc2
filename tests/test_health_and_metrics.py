from __future__ import annotations


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_readyz_checks_database_and_redis(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"database": "ok", "redis": "ok"}}


async def test_readyz_reports_a_redis_outage(app, client, monkeypatch):
    async def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app.state.services.redis, "ping", down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error: ConnectionError"}


async def test_metrics_count_requests(client):
    await client.get("/healthz")
    await client.get("/no-such-page")
    text = (await client.get("/metrics")).text
    assert 'carbon_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="other",status="404"' in text
    assert "carbon_http_request_duration_seconds_bucket" in text
