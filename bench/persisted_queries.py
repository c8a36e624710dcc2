"""Benchmark: the home screen sent as query text against persisted queries, in one run.

    .venv/bin/python -m bench.persisted_queries [--requests 3000] [--concurrency 8]
        [--rounds 2] [--workers 1] [--port 18120]
        [--database-url postgres://…/carbon_apq] [--redis-url redis://127.0.0.1:6379/12]

Starts `carbon-planet serve` (migrated first; embedded SQLite and fakeredis unless URLs are
given), logs one player in through `loginWithHostToken`, then sends the home screen's three
reads (Planet, Balances, the city's weekly Leaderboard: the client contract's text, as
`bench.load` sends them) round robin, closed loop, three ways, alternating in each round:

- text: POST with the query text (what clients send without persisted queries; the floor);
- APQ POST: POST with only `extensions.persistedQuery` (registered once, by the protocol:
  a miss, then the text with its hash);
- APQ GET: GET with the hash in the URL, as Apollo's `useGETForHashedQueries` sends it.

Prints, for each, the bytes of one request as sent (request line, headers, body) and
req/s, and their ratios to the text requests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import jwt

from bench.load import BIN, HOME_QUERIES, HttpConnection, Result, Server, drive, graphql_errors
from bench.load import server_env as load_server_env

ISSUER = "https://bench-superapp.example.cn"
ISSUER_SECRET = "bench-host-issuer-secret-0123456789abcdefghij"
LOGIN = """mutation LoginWithHostToken($token: String!) {
  loginWithHostToken(token: $token) { session { accessToken } errors { code message } }
}"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def size(self, host: str, port: int) -> int:
        """Bytes on the wire, as `bench.load.HttpConnection.request` writes them."""
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}",
                f"Content-Length: {len(self.body)}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        return len(("\r\n".join(head) + "\r\n\r\n").encode()) + len(self.body)


def extensions(query: str) -> dict:
    return {"persistedQuery": {"version": 1,
                               "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}


def home_requests(token: str) -> dict[str, list[Request]]:
    """The home screen's three requests, each way of sending them."""
    auth = {"Authorization": f"Bearer {token}"}
    post = {"Content-Type": "application/json", **auth}
    ways: dict[str, list[Request]] = {"text": [], "APQ POST": [], "APQ GET": []}
    for name, query, variables in HOME_QUERIES:
        ways["text"].append(Request("POST", "/graphql", post, json.dumps(
            {"query": query, "variables": variables}).encode()))
        ways["APQ POST"].append(Request("POST", "/graphql", post, json.dumps(
            {"operationName": name, "variables": variables,
             "extensions": extensions(query)}).encode()))
        params = {"operationName": name, "extensions": json.dumps(
            extensions(query), separators=(",", ":"))}
        if variables:
            params["variables"] = json.dumps(variables, separators=(",", ":"))
        ways["APQ GET"].append(Request("GET", "/graphql?" + urllib.parse.urlencode(params),
                                       auth, b""))
    return ways


def sender(requests: list[Request]):
    async def send(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        r = requests[i % len(requests)]
        status, body = await conn.request(r.method, r.path, r.headers, r.body)
        error = graphql_errors(status, body)
        return error is None, 1, error

    return send


async def register(host: str, port: int, token: str) -> None:
    """The APQ protocol once per document: a miss, then the text with its hash."""
    conn = HttpConnection(host, port)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    try:
        for _, query, variables in HOME_QUERIES:
            _, miss = await conn.request("POST", "/graphql", headers, json.dumps(
                {"variables": variables, "extensions": extensions(query)}).encode())
            if b"PERSISTED_QUERY_NOT_FOUND" not in miss:
                raise SystemExit(f"expected a miss for a fresh document, got {miss[:200]!r}")
            status, body = await conn.request("POST", "/graphql", headers, json.dumps(
                {"query": query, "variables": variables,
                 "extensions": extensions(query)}).encode())
            if error := graphql_errors(status, body):
                raise SystemExit(f"registration failed: {error}")
    finally:
        conn.close()


async def login(host: str, port: int) -> str:
    now = int(time.time())
    host_token = jwt.encode({"iss": ISSUER, "sub": "bench-apq-player", "city": "shenzhen",
                             "nickname": "apq", "iat": now, "exp": now + 600},
                            ISSUER_SECRET, algorithm="HS256")
    conn = HttpConnection(host, port)
    try:
        status, body = await conn.request("POST", "/graphql", {"Content-Type": "application/json"},
                                          json.dumps({"query": LOGIN,
                                                      "variables": {"token": host_token}}).encode())
    finally:
        conn.close()
    payload = json.loads(body)["data"]["loginWithHostToken"]
    if status != 200 or payload["errors"]:
        raise SystemExit(f"login failed: {body[:300]!r}")
    return payload["session"]["accessToken"]


async def run(opts: argparse.Namespace, workdir: str) -> None:
    database_url = opts.database_url or f"sqlite://{workdir}/bench.sqlite3"
    env = {**load_server_env(database_url, opts.redis_url, workdir),
           "CARBON_HOST_ISSUERS": json.dumps([{"issuer": ISSUER, "hs256_secret": ISSUER_SECRET}]),
           "CARBON_PERSISTED_QUERIES": "automatic"}
    await asyncio.to_thread(subprocess.run, [str(BIN / "carbon-planet"), "migrate"], env=env,
                            cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    server = Server([str(BIN / "carbon-planet"), "serve", "--host", "127.0.0.1",
                     "--port", str(opts.port), "--workers", str(opts.workers)],
                    env, opts.port, Path(workdir) / "server.log")
    try:
        await server.wait_ready()
        host, port = "127.0.0.1", opts.port
        token = await login(host, port)
        await register(host, port, token)
        ways = home_requests(token)
        results: dict[str, list[Result]] = {name: [] for name in ways}
        for round_no in range(opts.rounds):
            for name, requests in ways.items():
                r = await drive(name, host, port, sender(requests), opts.requests,
                                opts.concurrency, opts.seconds, warmup=150)
                results[name].append(r)
                print(f"  round {round_no + 1}: {r.line()}")
        report(ways, results, host, port, opts)
    finally:
        server.stop()


def report(ways: dict[str, list[Request]], results: dict[str, list[Result]], host: str,
           port: int, opts: argparse.Namespace) -> None:
    def mean_bytes(name: str) -> float:
        return sum(r.size(host, port) for r in ways[name]) / len(ways[name])

    def mean_graphql_part(name: str) -> float:
        return sum(len(r.body) + len(r.path) - len("/graphql") for r in ways[name]) \
            / len(ways[name])

    def rps(name: str) -> float:
        runs = results[name]
        return sum(r.count for r in runs) / sum(r.seconds for r in runs)

    errors = {name: sum(r.errors for r in runs) for name, runs in results.items()}
    print(f"\nhome screen (Planet, Balances, Leaderboard CITY/WEEK), {opts.workers} worker(s), "
          f"{opts.concurrency} connections, {opts.rounds} round(s) of {opts.requests} requests")
    print(f"{'sent as':10} {'bytes/request':>14} {'vs text':>8} {'GraphQL part':>13} "
          f"{'vs text':>8} {'req/s':>9} {'vs text':>8}  errors  (per operation: bytes)")
    for name, requests in ways.items():
        sizes = ", ".join(f"{q[0]} {r.size(host, port)}" for q, r in zip(HOME_QUERIES, requests,
                                                                         strict=True))
        part = mean_graphql_part(name)
        print(f"{name:10} {mean_bytes(name):14.0f} {mean_bytes(name) / mean_bytes('text'):8.2f} "
              f"{part:13.0f} {part / mean_graphql_part('text'):8.2f} "
              f"{rps(name):9.0f} {rps(name) / rps('text'):8.2f}  {errors[name]:6}  ({sizes})")
    print("GraphQL part: the body, or a GET's query string: what persisted queries shorten "
          "(the rest is the request line and headers, mostly the bearer token)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="",
                        help="default: a SQLite file in a temporary folder")
    parser.add_argument("--redis-url", default="", help="default: the embedded fakeredis")
    parser.add_argument("--port", type=int, default=18120)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3000, help="per way, per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60, help="time limit per way and round")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-apq-") as workdir:
        asyncio.run(run(opts, workdir))


if __name__ == "__main__":
    main()
