"""Over the wire: `carbon-planet serve --workers 2` counts each worker's operations in
Prometheus multiprocess files, and a scrape (of the app's /metrics, answered by whichever
worker, or of the metrics port, answered by the supervisor) sums every worker's figures."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.test_observability import operations, samples
from tests.test_server_process import COMMAND, clean_env, free_port, listening_sockets

APP_PORT = free_port()
METRICS_PORT = free_port()
SENT = 40
OPERATION = "WorkersPing"


def per_worker(directory) -> Counter:
    """Operations named OPERATION each worker process recorded, from its own histogram file."""
    counts: Counter = Counter()
    for path in directory.glob("histogram_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, sample, labels, _help = json.loads(key)
            # each bucket's own observations (the files are not cumulative)
            if (sample == "carbon_graphql_operation_duration_seconds_bucket"
                    and labels.get("operation") == OPERATION):
                counts[pid] += value
    return counts


@pytest.mark.parametrize("metrics_on", ["app", "own port"])
def test_metrics_sum_every_workers_operations(tmp_path, metrics_on):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_424242.db").write_bytes(b"from an earlier run")
    env = clean_env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), CARBON_PAYOUT_WORKER="false")
    if metrics_on == "own port":
        env["CARBON_METRICS_PORT"] = str(METRICS_PORT)
    done = subprocess.run([COMMAND, "migrate"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [COMMAND, "serve", "--port", str(APP_PORT), "--workers", "2"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{APP_PORT}"
    try:
        deadline = datetime.now() + timedelta(seconds=60)
        while listening_sockets(APP_PORT) < 2 and datetime.now() < deadline:
            time.sleep(0.2)  # both workers listen before the operations are sent
        answered = 0
        while answered < SENT and datetime.now() < deadline:
            try:  # a new connection each time: the kernel spreads them over both workers
                response = httpx.post(f"{base}/graphql", timeout=5,
                                      json={"query": f"query {OPERATION} {{ __typename }}"})
                assert response.json() == {"data": {"__typename": "Query"}}
                answered += 1
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered == SENT, log_path.read_text()
        assert not (metrics_dir / "counter_424242.db").exists()  # cleaned at start
        workers = per_worker(metrics_dir)
        assert len(workers) == 2 and all(n > 0 for n in workers.values()), workers
        assert sum(workers.values()) == SENT

        if metrics_on == "app":  # answered by one worker, with both workers' figures
            for _ in range(4):
                scraped = samples(httpx.get(f"{base}/metrics", timeout=5).text)
                assert operations(scraped, OPERATION, "query") == SENT
        else:  # answered by the supervisor; the app's port has no /metrics
            scraped = samples(httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).text)
            assert operations(scraped, OPERATION, "query") == SENT
            assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404
        assert len(list(metrics_dir.glob("gauge_live*.db"))) >= 2  # e.g. the rules version
    finally:
        process.terminate()
        process.wait(timeout=20)
    # the supervisor marked its stopped workers dead: their live gauges no longer count,
    # their counters and histograms still do
    assert list(metrics_dir.glob("gauge_live*.db")) == []
    assert sum(per_worker(metrics_dir).values()) == SENT
    # the log: JSON lines with ISO 8601 times
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert lines and all(datetime.fromisoformat(line["time"]).utcoffset() is not None
                         for line in lines)
