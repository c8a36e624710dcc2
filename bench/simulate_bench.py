"""Benchmark: the unlock simulation, 100,000 players × 90 days, default rules and profile.

    .venv/bin/python -m bench.simulate_bench [--players 100000] [--days 90] [--seed 1] [--workers N]

Prints wall seconds (and their ratio to the one-minute target), player-days
per second, engine calls per second and peak RSS (this process and, separately, the
largest worker process).
"""

from __future__ import annotations

import argparse
import resource
import time

from game.rules import default_rules
from game.simulate import load_profile, simulate

TARGET_SECONDS = 60.0  # the target: 100,000 players over 90 days in under a minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    args = parser.parse_args()

    rules, profile = default_rules(), load_profile()
    started = time.perf_counter()
    result = simulate(rules, profile, args.players, args.days, args.seed, workers=args.workers)
    seconds = time.perf_counter() - started
    player_days = args.players * args.days
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"players × days      {args.players:,} × {args.days} = {player_days:,} player-days")
    print(f"workers             {result.workers}")
    print(f"seconds             {seconds:.1f} ({seconds / TARGET_SECONDS:.0%} of the "
          f"{TARGET_SECONDS:.0f} s target)")
    print(f"player-days/s       {player_days / seconds:,.0f}")
    print(f"active player-days  {result.active_player_days:,} "
          f"({result.active_player_days / seconds:,.0f}/s)")
    print(f"engine calls        {result.engine_calls:,} ({result.engine_calls / seconds:,.0f}/s)")
    print(f"peak RSS            {own:.0f} MB (main process), {children:.0f} MB (largest worker)")
    for s in result.summaries():
        shares = "  ".join(f"d{d}={v:.1%}" for d, v in s.share_by.items())
        print(f"  {s.theme_id:22s} {shares}  median {s.median_days}")


if __name__ == "__main__":
    main()
