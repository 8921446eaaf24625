"""What waits for a user's action, gathered from every workflow.

Each workflow module registers a source: a function ``source(user) -> list[InboxItem]`` that
returns the requests waiting for *this* user's decision or action (never someone else's), with the
deadline computed on the working-day calendar. The inbox page and the header count read them all.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

SOURCES: list[Callable] = []


@dataclass(frozen=True)
class InboxItem:
    kind: str            # "borrowing" | "query_request" | "change_request" | …
    kind_label: str      # shown to the user, translated
    title: str           # e.g. "借阅 海外-2026-电商-001 · 张伟"
    url: str             # where the user acts on it
    action_label: str    # e.g. "待部门负责人审批"
    requested_by: str
    requested_at: dt.datetime
    deadline: dt.date | None = None
    late: bool = False


def source(fn: Callable) -> Callable:
    """Decorator: register ``fn(user) -> list[InboxItem]`` as an inbox source."""
    SOURCES.append(fn)
    return fn


def items_for(user) -> list[InboxItem]:
    items: list[InboxItem] = []
    for fn in SOURCES:
        items.extend(fn(user))
    far = dt.date.max
    return sorted(items, key=lambda i: (not i.late, i.deadline or far, i.requested_at))
