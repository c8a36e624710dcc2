"""Benchmark: what the per-operation GraphQL metrics cost, against the same schema
without them (the floor, measured in the same run), in one process and in Prometheus
multiprocess mode (several workers: every observation is written to a memory-mapped file).

    .venv/bin/python -m bench.metrics_overhead [--operations 20000]

Runs `query BenchPing { __typename }` in process (no HTTP, no database), so the figures
are the extension's own cost per operation, not a request's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

QUERY = "query BenchPing { __typename }"


async def per_operation_us(operations: int) -> dict[str, float]:
    from app.settings import Settings
    from schema import build_schema
    from schema.operation_metrics import OperationMetrics

    settings = Settings(_env_file=None)
    measured = build_schema(settings)
    floor = build_schema(settings)
    floor.extensions = [e for e in floor.extensions if e is not OperationMetrics]
    figures = {}
    for name, schema in (("floor", floor), ("metrics", measured)) * 2:  # second round counts
        for _ in range(200):
            await schema.execute(QUERY)
        started = time.perf_counter()
        for _ in range(operations):
            result = await schema.execute(QUERY)
        assert result.errors is None, result.errors
        figures[name] = (time.perf_counter() - started) / operations * 1e6
    return figures


def child(operations: int) -> None:
    print(json.dumps(asyncio.run(per_operation_us(operations))))


def run_child(operations: int, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "bench.metrics_overhead", "--child",
                           "--operations", str(operations)], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=20000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts.operations)
        return
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        modes = {"one process": run_child(opts.operations, env),
                 "multiprocess": run_child(opts.operations,
                                           {**env, "PROMETHEUS_MULTIPROC_DIR": directory})}
    print(f"{opts.operations} operations of {QUERY!r}, per operation:")
    for mode, figures in modes.items():
        extra = figures["metrics"] - figures["floor"]
        print(f"  {mode:13s} floor {figures['floor']:7.1f} us   with metrics "
              f"{figures['metrics']:7.1f} us   metrics cost {extra:6.1f} us "
              f"(ratio {figures['metrics'] / figures['floor']:.3f})")


if __name__ == "__main__":
    main()
