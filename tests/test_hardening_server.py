"""The attacks of the hardening review, against the real server process (`carbon-planet
serve`, uvicorn, embedded defaults) over loopback: what only the real transport shows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.test_hardening import fan_out
from tests.test_server_process import COMMAND, clean_env, free_port

REQUEST_CODE = ("mutation($p: String!) { requestLoginCode(phone: $p) "
                "{ errors { code } } }")


class Server:
    def __init__(self, base: str, process: subprocess.Popen, log: Path) -> None:
        self.base, self.process, self.log = base, process, log
        self.ws_url = base.replace("http://", "ws://") + "/graphql"

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")


@pytest.fixture
def start_server(tmp_path):
    started: list[Server] = []

    def start(**env: str) -> Server:
        environment = clean_env(**env)
        done = subprocess.run([COMMAND, "migrate"], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        with open(log, "w") as out:
            process = subprocess.Popen([COMMAND, "serve", "--port", str(port)], cwd=tmp_path,
                                       env=environment, stdout=out, stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail("server did not start:\n" + log.read_text())

    yield start
    for server in started:
        server.process.terminate()
        server.process.wait(timeout=15)


async def login_code_statuses(base: str, forwarded_for: list[str], first_phone: int = 0
                              ) -> list[str]:
    """requestLoginCode from loopback, a new phone each time, with these X-Forwarded-For."""
    async with httpx.AsyncClient(base_url=base) as http:
        outcomes = []
        for index, address in enumerate(forwarded_for):
            response = await http.post("/graphql", headers={"X-Forwarded-For": address}, json={
                "query": REQUEST_CODE, "variables": {"p": f"+86138001{first_phone + index:05d}"}})
            errors = response.json()["data"]["requestLoginCode"]["errors"]
            outcomes.append(errors[0]["code"] if errors else "SENT")
        return outcomes


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(start_server):
    limit = {"CARBON_LOGIN_CODE_IP_LIMIT": "5", "CARBON_PARTNER_AUTH_FAILURE_IP_LIMIT": "3",
             "CARBON_PARTNERS": json.dumps([{"id": "metro", "name": "Metro",
                                             "secrets": ["s" * 40]}])}
    untrusting = start_server(**limit)
    spoofed = [f"203.0.113.{i}" for i in range(8)]
    assert await login_code_statuses(untrusting.base, spoofed) == \
        ["SENT"] * 5 + ["RATE_LIMITED"] * 3
    async with httpx.AsyncClient(base_url=untrusting.base) as http:
        statuses = [(await http.post("/partner/v1/activities", content=b'{"records": []}', headers={
            "X-Forwarded-For": f"198.51.100.{i}", "X-Partner-Id": "metro",
            "X-Timestamp": str(int(time.time())), "X-Signature": "sha256=00"})).status_code
            for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]

    trusting = start_server(**limit, CARBON_TRUSTED_PROXIES='["127.0.0.1/32"]')
    # both servers share the database: new phones, so only the IP limit can refuse
    assert await login_code_statuses(trusting.base, spoofed, 100) == ["SENT"] * 8
    one_client = ["203.0.113.99"] * 7
    assert await login_code_statuses(trusting.base, one_client, 200) == \
        ["SENT"] * 5 + ["RATE_LIMITED"] * 2


async def test_websocket_fragment_bomb_leaves_the_server_responsive(start_server):
    server = start_server()
    async with ws_connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws, \
            httpx.AsyncClient(base_url=server.base) as http:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        started = time.perf_counter()
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": fan_out(8)}}))  # 10^7 fields expanded
        health = await http.get("/healthz", timeout=5)
        answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
        elapsed = time.perf_counter() - started
    assert health.status_code == 200
    assert answer["type"] == "error"
    assert answer["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert elapsed < 2.0, elapsed  # 18 s of a blocked worker before the fix


async def test_websocket_message_over_the_limit_is_closed_with_1009(start_server):
    server = start_server(CARBON_GRAPHQL_MAX_BODY_BYTES=str(64 * 1024))
    async with ws_connect(server.ws_url, subprotocols=["graphql-transport-ws"],
                          max_size=None) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": "{ __typename }", "variables": {"pad": "x" * (16 * 1024 * 1024)}}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def chunked_post(base: str, path: str, total_bytes: int) -> int:
    """POST `total_bytes` chunked, stopping when the server answers; the status it gave."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\nX-Partner-Id: metro\r\n\r\n".encode())
    answer = asyncio.create_task(reader.readline())
    chunk = b"x" * (256 * 1024)
    sent = 0
    try:
        while sent < total_bytes and not answer.done():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
    except (ConnectionError, OSError):
        pass  # the server answered and closed the connection
    status_line = await asyncio.wait_for(answer, timeout=30)
    writer.close()
    return int(status_line.split()[1])


async def test_chunked_bodies_are_refused_while_read_without_growing_memory(start_server):
    server = start_server()
    before = server.peak_rss_mb()
    statuses = await asyncio.gather(*(chunked_post(server.base, "/partner/v1/activities",
                                                   100 * 1024 * 1024) for _ in range(4)))
    statuses.append(await chunked_post(server.base, "/graphql", 100 * 1024 * 1024))
    assert statuses == [413] * 5
    growth = server.peak_rss_mb() - before
    # four 100 MiB bodies grew the server by 450 MB when they were read whole
    assert growth < 60, growth
    assert httpx.get(f"{server.base}/healthz").status_code == 200
