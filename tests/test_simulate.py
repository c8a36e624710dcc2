"""The unlock simulator: reproducible, faithful to the engine and the methodology, and the CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from game.rules import RULES_FILE, default_rules, parse_rules
from game.simulate import (
    DEFAULT_PROFILE,
    ProfileError,
    _make_plan,
    load_profile,
    parse_profile,
    simulate,
    trip_growth,
)
from methodology import ActivityInput, DailyTotals, calculate, default_registry
from tests.partner_client import CST

COMMAND = str(Path(sys.executable).parent / "carbon-planet")
SHIPPED = RULES_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def profile():
    return load_profile()


def test_same_seed_gives_the_same_result_whatever_the_worker_count(profile):
    rules = default_rules()
    one = simulate(rules, profile, 3_000, 20, seed=7, workers=1)
    two = simulate(rules, profile, 3_000, 20, seed=7, workers=2)
    other = simulate(rules, profile, 3_000, 20, seed=8, workers=1)
    assert one.first_unlock_day.shape == (3_000, 9)
    assert np.array_equal(one.first_unlock_day, two.first_unlock_day)
    assert one.engine_calls == two.engine_calls and one.mean_growth == two.mean_growth
    assert not np.array_equal(one.first_unlock_day, other.first_unlock_day)
    assert one.share("green-energy-islands", 20) > 0.5  # players do unlock things


def test_folding_a_days_events_changes_no_unlock_day(profile):
    """The speed-up (one event for uncounted kinds, no no-op wrong answers) is exact."""
    rules = default_rules()
    fast = simulate(rules, profile, 1_000, 30, seed=3, workers=1)
    full = simulate(rules, profile, 1_000, 30, seed=3, workers=1, fold=False)
    assert np.array_equal(fast.first_unlock_day, full.first_unlock_day)
    assert fast.mean_growth == full.mean_growth
    assert fast.engine_calls < full.engine_calls


def test_unlocks_respect_theme_prerequisites_and_growth(profile):
    result = simulate(default_rules(), profile, 2_000, 60, seed=5, workers=1)
    col = {t: i for i, t in enumerate(result.theme_ids)}
    eco = result.first_unlock_day[:, col["eco-oxygen-realm"]]
    islands = result.first_unlock_day[:, col["green-energy-islands"]]
    unlocked = eco > 0
    assert unlocked.any()
    assert (islands[unlocked] > 0).all() and (islands[unlocked] <= eco[unlocked]).all()
    # every curve only rises, between 0 and 1
    for curve in result.curves.values():
        assert (np.diff(curve) >= 0).all() and 0 <= curve[0] and curve[-1] <= 1


def test_trip_growth_matches_the_calculator_trip_by_trip(profile):
    plan = _make_plan(default_rules(), profile, 1, 1)
    methodology = default_registry().for_kind("metro", datetime(2026, 3, 2, 12, tzinfo=CST))
    rng = np.random.default_rng(11)
    capped = []
    for rule in plan.trips:
        owner = np.sort(rng.integers(0, 40, 400))
        distances = rng.integers(1, 60_000, 400)
        growth, accepted, grams = trip_growth(rule, distances, owner, 40)
        want = np.zeros((40, 3), dtype=np.int64)
        for player, distance in zip(owner.tolist(), distances.tolist()):
            today = DailyTotals(reduction_grams=int(want[player, 2]))
            calc = calculate(methodology, ActivityInput(rule.kind, distance), today)
            if calc.rejection is None:
                want[player] += (calc.growth, 1, calc.reduction_grams)
        assert growth.tolist() == want[:, 0].tolist(), rule.kind
        assert accepted.tolist() == want[:, 1].tolist(), rule.kind
        assert grams.tolist() == want[:, 2].tolist(), rule.kind
        assert (grams > 0).any(), rule.kind
        capped += [rule.kind] if (want[:, 2] == rule.daily_cap_grams).any() else []
    assert capped  # the daily cap was exercised


def test_a_stricter_rule_unlocks_later(profile):
    stricter = parse_rules(SHIPPED.replace(
        'requirements = [{ type = "activity_count", kind = "metro", at_least = 3 }]',
        'requirements = [{ type = "activity_count", kind = "metro", at_least = 12 }]'), "strict")
    base = simulate(default_rules(), profile, 2_000, 30, seed=2, workers=1)
    strict = simulate(stricter, profile, 2_000, 30, seed=2, workers=1)
    assert strict.share("city-of-sunshine", 30) < base.share("city-of-sunshine", 30) - 0.1
    assert strict.share("bamboo-grove", 30) == base.share("bamboo-grove", 30)  # untouched theme


def test_profile_problems_name_every_field():
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    bad = (text.replace("active_probability = 0.45", "active_probability = 1.5")
               .replace("median = 6000", "median = 60000")
               .replace("[quiz]", "[quiz]\nbonus = 1"))
    with pytest.raises(ProfileError) as caught:
        parse_profile(bad, "bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml:")
    for field in ("engagement.active_probability", "steps:", "median 60000 is above max",
                  "quiz.bonus"):
        assert field in message
    with pytest.raises(ProfileError, match="rides.rocket: no methodology covers"):
        _make_plan(default_rules(), parse_profile(text + "\n[rides.rocket]\nmean_per_active_day = 1\n"
                                                  "median_distance_m = 1000\nsigma = 0.5\n"
                                                  "max_distance_m = 9000\n"), 1, 1)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, "rules", "simulate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_cli_compares_two_rule_files_in_one_chart_and_csv(tmp_path):
    import matplotlib.image

    easier = tmp_path / "easier.toml"
    easier.write_text(SHIPPED.replace('{ type = "streak", days = 14 }',
                                      '{ type = "streak", days = 4 }'), encoding="utf-8")
    out = tmp_path / "out"
    done = run(str(RULES_FILE), str(easier), "--players", "800", "--days", "20", "--seed", "4",
               "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for label in ("planet.toml", "easier.toml", "by day 7", "median days", "Starlit Oasis"):
        assert label in done.stdout
    with (out / "simulation.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file", "theme", "day", "share"]
    assert len(rows) == 2 * 9 * 20
    final = {(r["file"], r["theme"]): float(r["share"]) for r in rows if r["day"] == "20"}
    assert final[("easier.toml", "starlit-oasis")] > final[("planet.toml", "starlit-oasis")]
    image = matplotlib.image.imread(out / "simulation.png")
    height, width = image.shape[:2]
    assert width > 1.5 * height > 500  # two panels side by side and a legend


def test_cli_refuses_an_invalid_rules_file_and_a_bad_profile(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(SHIPPED.replace('theme = "zero-carbon-harbour"', 'theme = "atlantis"'),
                      encoding="utf-8")
    done = run(str(broken), "--players", "10", "--days", "2", cwd=tmp_path)
    assert done.returncode == 1
    assert "atlantis" in done.stderr
    profile = tmp_path / "profile.toml"
    profile.write_text("name = 'x'\n", encoding="utf-8")
    done = run(str(RULES_FILE), "--profile", str(profile), "--players", "10", "--days", "2",
               cwd=tmp_path)
    assert done.returncode == 1
    assert "engagement" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()
