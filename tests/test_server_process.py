"""Over the wire: the real `carbon-planet` command on the embedded defaults, as `make run` starts it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOGIN_WITH_CODE, REQUEST_CODE

COMMAND = str(Path(sys.executable).parent / "carbon-planet")


def clean_env(**extra: str) -> dict[str, str]:
    """No DATABASE_URL, REDIS_URL or CARBON_*: the embedded defaults, as on a fresh clone."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("CARBON_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    env = clean_env()
    for step in (["migrate"], ["seed-demo"]):
        done = subprocess.run([COMMAND, *step], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "carbon-planet.sqlite3").exists()
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([COMMAND, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not start:\n" + log_path.read_text())
    yield base, log_path
    process.terminate()
    process.wait(timeout=15)


def code_from_log(log_path: Path, phone: str) -> str:
    for line in reversed(log_path.read_text().splitlines()):
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("phone") == phone and "login_code" in record:
                assert record["request_id"]
                return record["login_code"]
    raise AssertionError("no login code in the log")


async def test_login_flow_over_http_with_embedded_defaults(server):
    base, log_path = server
    phone = "+8613800000001"  # a demo player
    async with httpx.AsyncClient(base_url=base) as http:
        ready = await http.get("/readyz")
        assert ready.json() == {"ready": True, "checks": {"database": "ok", "redis": "ok"}}

        async def gql(query, variables, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.post("/graphql", json={"query": query, "variables": variables},
                                       headers=headers)
            return response.json()["data"]

        sent = await gql(REQUEST_CODE, {"phone": phone})
        assert sent["requestLoginCode"]["errors"] == []
        await asyncio.sleep(0.2)
        code = code_from_log(log_path, phone)
        login = (await gql(LOGIN_WITH_CODE, {"phone": phone, "code": code}))["loginWithCode"]
        assert login["errors"] == []
        assert login["session"]["player"]["nickname"] == "绿色通勤者"
        me = await gql("{ me { nickname city balances { reductionGrams carbonPoints } } }", {},
                       token=login["session"]["accessToken"])
        assert (me["me"]["nickname"], me["me"]["city"]) == ("绿色通勤者", "shenzhen")
        # the demo trips (metro 12.85 km, bus 6.4 km, bike 2.3 km, walk 1.8 km) were credited
        assert me["me"]["balances"]["reductionGrams"] == 600 + 172 + 61 + 48
        # the trips grew the planet, and the boards were derived from the ledger at start-up
        game = await gql("""{ me { planet { level eggs { id } } }
          leaderboard(scope: GLOBAL, period: ALL_TIME) { entries { rank } me { rank score } } }""",
                         {}, token=login["session"]["accessToken"])
        assert game["me"]["planet"]["level"] >= 2 and game["me"]["planet"]["eggs"]
        assert game["leaderboard"]["me"]["score"] == 881 and len(game["leaderboard"]["entries"]) == 4
        graphiql = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in graphiql.text.lower()


def test_production_mode_refuses_to_start_on_defaults(tmp_path):
    done = subprocess.run([COMMAND, "serve", "--port", str(free_port())], cwd=tmp_path,
                          env=clean_env(CARBON_ENV="production"), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "will not start" in done.stderr
    assert "CARBON_SECRET_KEY" in done.stderr and "DATABASE_URL" in done.stderr


def listening_sockets(port: int) -> int:
    """Listening TCP sockets on `port` (Linux: /proc/net/tcp, state 0A)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows
               if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A")


def test_several_workers_listen_each_on_its_own_socket(tmp_path):
    """`serve --workers 2`: a SO_REUSEPORT socket per worker, so the kernel spreads new
    connections over the workers (one shared socket let a burst land on one worker)."""
    env = clean_env()
    done = subprocess.run([COMMAND, "migrate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    port = free_port()
    with open(tmp_path / "server.log", "w") as log:
        process = subprocess.Popen([COMMAND, "serve", "--port", str(port), "--workers", "2"],
                                   cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while listening_sockets(port) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert listening_sockets(port) == 2, (tmp_path / "server.log").read_text()
        answers = []
        for _ in range(16):  # a new connection each time
            while time.monotonic() < deadline:
                try:
                    answers.append(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
        assert answers == [200] * 16
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert listening_sockets(port) == 0  # the workers stopped with the supervisor
