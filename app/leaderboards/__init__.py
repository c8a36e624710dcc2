"""Leaderboards in Redis: GLOBAL / CITY / FRIENDS × DAY / WEEK / MONTH / ALL_TIME."""

from app.leaderboards.boards import Entry, Leaderboards
from app.leaderboards.rebuild import rebuild_from_ledger

__all__ = ["Entry", "Leaderboards", "rebuild_from_ledger"]
