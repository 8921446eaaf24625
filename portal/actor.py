"""Who is acting and from where: passed from views (or CLI, API) into every service call."""
from __future__ import annotations

from dataclasses import dataclass

from portal.auth.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    client_addr: str = ""
    via: str = "web"  # web | api | cli

    @property
    def username(self) -> str:
        return self.user.username if self.user else ""


def cli_actor(user: User | None = None) -> Actor:
    return Actor(user=user, client_addr="cli", via="cli")
