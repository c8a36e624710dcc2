"""Roles and the one rule that decides what a principal may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    PLAYER = "player"
    DESIGNER = "designer"
    OPERATOR = "operator"
    MERCHANT = "merchant"
    REGULATOR = "regulator"  # the city's ecology bureau: reads programme figures, changes nothing
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a player id, their session and roles (every account is a player)."""

    player_id: str
    session_id: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    def has_any(self, allowed: frozenset[Role] | set[Role]) -> bool:
        """Admins may do everything; everyone else needs one of the allowed roles."""
        return Role.ADMIN in self.roles or bool(self.roles & set(allowed))


def parse_roles(stored: list[str] | None) -> frozenset[Role]:
    """Roles stored on a player; every account is at least a player."""
    known = {r.value for r in Role}
    return frozenset({Role.PLAYER} | {Role(r) for r in stored or [] if r in known})
