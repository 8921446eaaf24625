"""Helpers of the inspection tests (import as ``import inspection_helpers as ih``)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from portal import workcal
from portal.actor import Actor
from portal.auth.models import Department
from portal.extensions import db
from portal.inspection import checklist
from portal.inspection import services as svc
from portal.inspection.models import Inspection, InspectionSample

ALL_CONFORM = {key: ("conform", "") for key in checklist.KEYS}


def as_(user) -> Actor:
    return Actor(user, "127.0.0.1")


def set_today(monkeypatch, day: date) -> None:
    monkeypatch.setattr(workcal, "today", lambda: day)


def dept_id(name: str) -> int:
    return db.session.scalar(sa.select(Department.id).where(Department.name == name))


def filed(make_archive, n: int, *, by: str = "staff_sales", prefix: str = "抽查客户", **fields) -> list:
    """``n`` filed archives made through the real services."""
    if by.endswith("marketing"):
        fields.setdefault("sensitivity", 3)
    return [make_archive(by, status="filed", name=f"{prefix}{i:02d}有限公司", **fields) for i in range(n)]


def draw(user, *, scope: str = "all", sample: str = "10", seed: str = "20261201", quarter: str = "2026-Q4",
         by: str = "archivist") -> Inspection:
    return svc.draw(as_(user(by)), svc.DrawForm(quarter=quarter, scope=scope, sample=sample, seed=seed))


def form_for(sample: InspectionSample, results: dict | None = None, paper_count: str = "") -> dict:
    """The checklist form as the browser posts it (all items conform unless given)."""
    data = {"version": str(sample.version), "paper_count": paper_count}
    for key, (result, note) in {**ALL_CONFORM, **(results or {})}.items():
        data[f"result_{key}"] = result
        data[f"note_{key}"] = note
    return data


def sample_of(inspection: Inspection, archive) -> InspectionSample:
    db.session.expire_all()
    return db.session.scalar(sa.select(InspectionSample).where(
        InspectionSample.inspection_id == inspection.id, InspectionSample.archive_id == archive.id))


def text(response) -> str:
    return response.get_data(as_text=True)
