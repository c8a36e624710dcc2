"""The permission layer: every root field declares who may call it (a test checks this)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from app.auth.roles import Role
from app.i18n.messages import _


class Public(BasePermission):
    """Anyone, logged in or not."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


class IsAuthenticated(BasePermission):
    """Any logged-in account."""

    error_extensions = {"code": "UNAUTHENTICATED"}

    @property
    def message(self) -> str:  # type: ignore[override]  # in the reader's language
        return _("Log in first.")

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await info.context.principal()  # raises UNAUTHENTICATED with the precise reason
        return True


def requires_role(*roles: Role) -> type[BasePermission]:
    """Logged in with one of `roles` (admins pass every role check)."""
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    class HasRole(BasePermission):
        error_extensions = {"code": "FORBIDDEN"}

        @property
        def message(self) -> str:  # type: ignore[override]
            return _("This needs one of the roles: %(roles)s.", roles=names)

        async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            principal = await info.context.principal()
            return principal.has_any(allowed)

    HasRole.__name__ = f"Requires_{'_'.join(sorted(r.value for r in allowed))}"
    return HasRole


IsAdmin = requires_role(Role.ADMIN)


class SelfOrStaff(BasePermission):
    """A player's private fields: the player themself, or an operator or admin."""

    error_extensions = {"code": "FORBIDDEN"}

    @property
    def message(self) -> str:  # type: ignore[override]
        return _("Only the player themself (or an operator) may see this.")

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = await info.context.principal()
        return str(source.id) == principal.player_id or principal.has_any({Role.OPERATOR})
